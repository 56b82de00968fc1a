// seg-torch: the compiled addon (build/Release/seg_torch.node, made by `npm install` through
// scripts/install.cjs). Throws when it was not built or libtorch cannot be loaded; seg then runs
// without it (src/backend/native/addon.ts).
'use strict';
const path = require('node:path');

module.exports = require(path.join(__dirname, 'build', 'Release', 'seg_torch.node'));
