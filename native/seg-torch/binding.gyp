{
  "targets": [
    {
      "target_name": "seg_torch",
      "sources": ["src/addon.cc", "src/glue.cc", "src/conv.cc", "src/fused.cc", "src/gemm.cc", "src/alloc.cc", "src/lovasz.cc", "src/avx2.cc"],
      "include_dirs": ["<!@(node scripts/libtorch.cjs include)"],
      "libraries": ["<!@(node scripts/libtorch.cjs libs)", "-ldl", "-fopenmp"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++20"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-trapping-math", "-fno-math-errno", "-ffp-contract=off", "-fopenmp", "-fexceptions", "-frtti", "-D_GLIBCXX_USE_CXX11_ABI=1", "-Wno-unused-parameter"],
      "cflags!": ["-fno-exceptions"],
      "xcode_settings": {
        "GCC_ENABLE_CPP_EXCEPTIONS": "YES",
        "GCC_ENABLE_CPP_RTTI": "YES",
        "CLANG_CXX_LANGUAGE_STANDARD": "c++17",
        "MACOSX_DEPLOYMENT_TARGET": "11.0"
      }
    }
  ]
}
