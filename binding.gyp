{
  "targets": [
    {
      "target_name": "pyglite_native",
      "sources": ["native/pyglite.c", "native/exec.c", "native/core/state.c", "native/core/codec.c", "native/core/jscall.c", "native/guards/cancel.c", "native/guards/memlimit.c", "native/call/proc.c", "native/call/call.c", "native/call/srf.c", "native/call/convert.c", "native/triggers/trigger.c", "native/triggers/trigger_shape.c", "native/triggers/trigger_modify.c", "native/plpy/result.c", "native/plpy/spiop.c", "native/columns/wasmmem.c"],
      "include_dirs": ["native", "<!@(python3-config --includes | sed -e s/-I//g)"],
      "cflags": ["-O2", "-Wall", "-Wno-unused-parameter", "-fvisibility=hidden", "-std=gnu11"],
      "libraries": ["<!(node native/pylink.cjs)"]
    },
    {
      "target_name": "pyglite_fsutil",
      "sources": ["native/guards/fsutil.c"],
      "cflags": ["-O2", "-Wall", "-fvisibility=hidden", "-std=gnu11"]
    }
  ]
}
