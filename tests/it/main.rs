//! The single integration-test binary: spawns the real binaries on port 0.
