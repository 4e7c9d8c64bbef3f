{
  "targets": [
    {
      "target_name": "engram",
      "sources": ["<!@(node scripts/sources.mjs core napi nocuda)"],
      "include_dirs": ["native/include"],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "ENGRAM_WITH_CUDA=0"],
      "cflags_cc": ["-std=c++17", "-O3", "-fno-math-errno", "-Werror=switch", "-frtti", "-fexceptions"],
      "cflags_cc!": ["-fno-rtti", "-fno-exceptions"],
      "ldflags": ["-pthread"],
      "libraries": ["-ldl"]
    }
  ]
}
