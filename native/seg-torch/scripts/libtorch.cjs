// Where libtorch's headers and libraries are, for binding.gyp and the install script.
//   LIBTORCH=<dir>   a libtorch distribution (the official zip: <dir>/include, <dir>/lib)
//   default          the system's (Debian/Ubuntu libtorch-dev: /usr/include/{ATen,c10,torch}, -ltorch_cpu -lc10)
// `node scripts/libtorch.cjs include|libs|check` prints the include dirs, the linker flags, or
// whether the headers are there (exit 1 with a message when not).
'use strict';
const fs = require('node:fs');
const path = require('node:path');

function locate() {
  const root = process.env.LIBTORCH;
  if (root) {
    const lib = path.join(root, 'lib');
    const inc = path.join(root, 'include');
    return {
      include: [inc],
      search: [inc],
      libs: [`-L${lib}`, `-Wl,-rpath,${lib}`, '-ltorch_cpu', '-lc10'],
      where: `LIBTORCH=${root}`,
    };
  }
  // the system include directory is searched by the compiler anyway (adding -I/usr/include breaks #include_next)
  return { include: [], search: ['/usr/include'], libs: ['-ltorch_cpu', '-lc10'], where: '/usr/include (libtorch-dev)' };
}

function check() {
  const l = locate();
  const header = l.search.map((d) => path.join(d, 'ATen', 'ATen.h')).find((f) => fs.existsSync(f));
  if (!header) return { ok: false, message: `libtorch headers not found (${l.where}: no ATen/ATen.h)` };
  return { ok: true, message: `libtorch headers: ${path.dirname(path.dirname(header))}` };
}

module.exports = { locate, check };

if (require.main === module) {
  const what = process.argv[2];
  if (what === 'include') console.log(locate().include.join(' '));
  else if (what === 'libs') console.log(locate().libs.join(' '));
  else {
    const c = check();
    console.log(c.message);
    process.exit(c.ok ? 0 : 1);
  }
}
