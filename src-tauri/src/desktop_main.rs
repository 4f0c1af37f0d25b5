// A window program on Windows (subsystem "windows"): no console window opens with the app, in
// development builds too. Its stderr goes where a terminal redirects it (`2> log.txt`).
#![windows_subsystem = "windows"]

fn main() {
    std::process::exit(latchkey::run());
}
