//! Build script: with the `python` feature, make the binary load the libpython it was
//! linked against at run time.
//!
//! pyo3 links `-lpython3.X` from the interpreter's LIBDIR but emits no rpath, so the
//! dynamic loader would take whichever `libpython3.X.so.1.0` it finds first in the system
//! paths (Debian's, under /usr/lib), not the one we compiled against (pyenv's, a venv's
//! base). That interpreter then looks for its standard library and site-packages under
//! its own prefix, and `import flask` fails. An rpath to the build interpreter's LIBDIR
//! pins the right library.

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PYO3_PYTHON");
    println!("cargo:rerun-if-env-changed=PATH");
    if std::env::var_os("CARGO_FEATURE_PYTHON").is_none() {
        return;
    }
    // The same interpreter pyo3-build-config picks when PYO3_PYTHON is set; otherwise the
    // `python3` on PATH (a venv's python reports its base installation's LIBDIR).
    let python = std::env::var("PYO3_PYTHON").unwrap_or_else(|_| "python3".to_string());
    let out = Command::new(&python)
        .args([
            "-c",
            "import sys, sysconfig\n\
             print(sysconfig.get_config_var('LIBDIR') or '')\n\
             print(sys.base_prefix)\n\
             print(getattr(sys, '_base_executable', sys.executable))\n\
             print('%d.%d' % sys.version_info[:2])",
        ])
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            let mut lines = text.lines().map(str::trim);
            let mut next = || lines.next().unwrap_or("");
            let (libdir, home, exe, version) = (next(), next(), next(), next());
            if !libdir.is_empty() {
                println!("cargo:rustc-link-arg=-Wl,-rpath,{libdir}");
            }
            // The interpreter's home and executable, so the embedded interpreter finds
            // its own standard library whatever `python3` is first on PATH at run time
            // (src/wsgi/mod.rs `init_interpreter`).
            println!("cargo:rustc-env=RUNICORN_PYTHON_HOME={home}");
            println!("cargo:rustc-env=RUNICORN_PYTHON_EXECUTABLE={exe}");
            println!("cargo:rustc-env=RUNICORN_PYTHON_VERSION={version}");
        }
        _ => println!(
            "cargo:warning=cannot ask {python} for its LIBDIR: no rpath to libpython is set"
        ),
    }
}
