//! One name per setting: a setting is `--some-flag` on the command line,
//! `some_flag` in a TOML file and `TOPSELLERS_[SCOPE_]SOME_FLAG` in the
//! environment, whichever command reads it. These tests read the names
//! from clap's definitions, `run`'s file keys and `serve`'s `[serve]`
//! keys, so a new setting that breaks the rule fails here. Old names stay
//! readable as hidden aliases (README, *One name per setting*).

use std::collections::BTreeMap;

use clap::CommandFactory;

use crate::cli::Cli;
use crate::commands::run::config::{env_name, KEYS};
use crate::commands::serve::options::{env_of, OLD_KEYS, SETTINGS};

/// Scopes an environment variable may carry before the flag's own name:
/// the command's (`TOPSELLERS_SYNC_FROM` for `sync --from`) or the
/// service's (`TOPSELLERS_S3_PATH_STYLE`).
const SCOPES: [&str; 6] = ["SYNC", "INGEST", "GEN", "SERVE", "S3", ""];

/// Every (command, long flag, environment variable) clap knows.
fn flags_with_env() -> Vec<(String, String, String)> {
    let cli = Cli::command();
    let mut all = Vec::new();
    let mut add = |cmd: &str, args: &mut dyn Iterator<Item = &clap::Arg>| {
        for arg in args {
            if let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) {
                let env = env.to_string_lossy().into_owned();
                all.push((cmd.to_string(), long.to_string(), env));
            }
        }
    };
    add("", &mut cli.get_arguments());
    for sub in cli.get_subcommands() {
        add(sub.get_name(), &mut sub.get_arguments());
    }
    all
}

fn upper(long: &str) -> String {
    long.replace('-', "_").to_ascii_uppercase()
}

#[test]
fn each_environment_variable_is_its_flag_name() {
    for (cmd, long, env) in flags_with_env() {
        let fits = SCOPES.iter().any(|scope| {
            let scoped = if scope.is_empty() {
                String::new()
            } else {
                format!("{scope}_")
            };
            env == format!("TOPSELLERS_{scoped}{}", upper(&long))
        });
        assert!(
            fits,
            "{cmd} --{long} reads {env}: name it TOPSELLERS_[SCOPE_]{}",
            upper(&long)
        );
    }
}

#[test]
fn one_environment_variable_means_one_flag_name() {
    let mut names: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (cmd, long, env) in flags_with_env() {
        if let Some((other_cmd, other)) = names.get(&env) {
            assert_eq!(
                other, &long,
                "{env} is --{other} for {other_cmd} but --{long} for {cmd}"
            );
        }
        names.insert(env, (cmd, long));
    }
}

#[test]
fn run_file_keys_are_the_flag_names() {
    // A flag that reads `TOPSELLERS_<KEY>` of a file key is named like the
    // key, or like its end when the key carries the command's name
    // (`sync --concurrency` is `sync_concurrency`).
    for (key, _) in KEYS {
        for (cmd, long, env) in flags_with_env() {
            if env == env_name(key) {
                let dashed = key.replace('_', "-");
                assert!(
                    long == dashed || format!("{cmd}-{long}") == dashed,
                    "{cmd} --{long} is `{key}` in run's file"
                );
            }
        }
    }
    // `run`'s own flags are file keys.
    let cli = Cli::command();
    let run = cli.find_subcommand("run").expect("run is a command");
    for arg in run.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if ["config", "force", "dry-run"].contains(&long) {
            continue;
        }
        let key = long.replace('-', "_");
        assert!(
            KEYS.iter().any(|(k, _)| *k == key),
            "run --{long} has no key `{key}` in the file"
        );
    }
}

#[test]
fn serve_keys_are_its_flag_names_and_environment() {
    let cli = Cli::command();
    let serve = cli.find_subcommand("serve").expect("serve is a command");
    for (key, _) in SETTINGS {
        let long = key.replace('_', "-");
        let arg = serve
            .get_arguments()
            .find(|a| a.get_long() == Some(long.as_str()))
            .unwrap_or_else(|| panic!("[serve] {key} has no flag --{long}"));
        let env = arg.get_env().map(|e| e.to_string_lossy().into_owned());
        assert_eq!(env, Some(env_of(key)), "serve --{long}");
    }
    for (old, new) in OLD_KEYS {
        assert!(SETTINGS.iter().any(|(k, _)| *k == new), "{old} → {new}");
        let old_flag = old.replace('_', "-");
        let arg = serve
            .get_arguments()
            .find(|a| a.get_long() == Some(new.replace('_', "-").as_str()))
            .expect("the new flag exists");
        assert!(
            arg.get_all_aliases()
                .unwrap_or_default()
                .contains(&old_flag.as_str()),
            "--{old_flag} still reads as --{}",
            new.replace('_', "-")
        );
    }
}
