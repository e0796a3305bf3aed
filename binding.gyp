{
  "targets": [
    {
      "target_name": "pyglite_native",
      "sources": ["native/pyglite.c", "native/call.c", "native/srf.c", "native/convert.c", "native/codec.c", "native/cancel.c", "native/trigger.c", "native/trigger_shape.c", "native/trigger_modify.c", "native/memlimit.c", "native/result.c", "native/spiop.c"],
      "include_dirs": ["<!@(python3-config --includes | sed -e s/-I//g)"],
      "cflags": ["-O2", "-Wall", "-Wno-unused-parameter", "-fvisibility=hidden", "-std=gnu11"],
      "libraries": ["<!(node native/pylink.cjs)"]
    },
    {
      "target_name": "pyglite_fsutil",
      "sources": ["native/fsutil.c"],
      "cflags": ["-O2", "-Wall", "-fvisibility=hidden", "-std=gnu11"]
    }
  ]
}
