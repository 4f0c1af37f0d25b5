//! `latchkey-man DIR`: writes Latchkey's man pages (`latchkey.1` and one per visible
//! subcommand) into DIR from the command line's own clap definition. `./dev.sh package` runs it
//! at build time, so the shipped programs carry no man-page generator (issue 29).

use clap::CommandFactory;

fn main() {
    let Some(dir) = std::env::args_os().nth(1) else {
        eprintln!("usage: latchkey-man DIR");
        std::process::exit(2);
    };
    let written = std::fs::create_dir_all(&dir)
        .and_then(|()| clap_mangen::generate_to(latchkey::cli::Cli::command(), &dir));
    if let Err(e) = written {
        eprintln!(
            "latchkey-man: could not write the man pages into {}: {e}",
            std::path::Path::new(&dir).display()
        );
        std::process::exit(1);
    }
}
