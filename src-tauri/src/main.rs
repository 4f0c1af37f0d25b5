fn main() {
    std::process::exit(latchkey::run_command());
}
