/**
 * Registers tfjs's gradient functions (Sum, Mul, Relu6, Conv2D, ...) with tfjs-core.
 *
 * tfjs-core's Node bundle (dist/tf-core.node.js) registers none: the gradients live in ESM files
 * under dist/gradients/ whose extensionless imports Node cannot load. The union package
 * @tensorflow/tfjs inlines them in its own Node bundle and registers them with the shared
 * @tensorflow/tfjs-core instance when it is loaded; seg loads it only for that (the model is built
 * from tf.* ops, never from tfjs-layers). Every module that differentiates should import this file
 * (the op layer does).
 */
import '@tensorflow/tfjs';
