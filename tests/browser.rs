//! The browser end-to-end test: the real `pinglass run` binary in sandbox mode
//! (no credentials, so the Telegram, Kie AI and T-Bank stand-ins on loopback),
//! and a real headless Chromium — Debian's `/usr/bin/chromium`, driven by
//! Playwright from `tests/browser/e2e.mjs` — playing a Russian-speaking user
//! through the whole funnel on the chat page, as a person would.
//!
//! It needs Debian's `chromium` package and `npm ci` in `tests/browser/`;
//! `.ci/run` installs both. Without them the test fails and says so.
//!
//! The screenshots of the key steps, the test photos, the script's output
//! (`e2e.log`) and the bot's logs (`pinglass.log`) stay in
//! `target/test-output/browser/` under the crate after the test, for a person
//! to look at; each run starts by emptying that directory.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const CHROMIUM: &str = "/usr/bin/chromium";
/// What `pinglass run` prints before the chat page's address.
const CHAT_PAGE_LINE: &str = "Open the chat page and play the user: ";
const SANDBOX_START_TIMEOUT: Duration = Duration::from_secs(30);
/// The whole funnel: a few seconds of answers, then the portraits.
const E2E_TIMEOUT: Duration = Duration::from_secs(180);
const PHOTO_COUNT: usize = 5;
const PHOTO_WIDTH: u32 = 800;
const PHOTO_HEIGHT: u32 = 1000;

/// A child process that is killed (and reaped) when the guard goes out of
/// scope, also when the test panics.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_russian_user_goes_through_the_whole_funnel_in_headless_chromium() {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let browser_dir = crate_dir.join("tests/browser");
    check_prerequisites(&browser_dir);

    // Kept after the test: the screenshots are there for a person to look at.
    let output_dir = crate_dir.join("target/test-output/browser");
    if output_dir.exists() {
        std::fs::remove_dir_all(&output_dir).expect("emptying target/test-output/browser");
    }
    std::fs::create_dir_all(&output_dir).expect("creating target/test-output/browser");
    write_test_photos(&output_dir);

    let temp = tempfile::tempdir().expect("temp dir");
    let bot_log = output_dir.join("pinglass.log");
    let (_bot, chat_url) = start_sandbox(crate_dir, temp.path(), &bot_log);

    let e2e_log = output_dir.join("e2e.log");
    let started = Instant::now();
    let status = run_e2e(&browser_dir, &chat_url, &output_dir, &e2e_log);
    let output = std::fs::read_to_string(&e2e_log).unwrap_or_default();
    println!("{output}");
    println!(
        "e2e.mjs took {:.1} s; screenshots in {}",
        started.elapsed().as_secs_f64(),
        output_dir.display()
    );
    assert!(
        status.success(),
        "the browser test failed ({status}):\n{output}\n--- the bot's log (last lines of {}) ---\n{}",
        bot_log.display(),
        last_lines(&bot_log, 60)
    );
    assert!(
        output.contains("PASSED: the whole funnel"),
        "e2e.mjs exited 0 without reporting the funnel passed:\n{output}"
    );
    for screenshot in ["after-upload.png", "portraits.png", "portraits-album.png"] {
        let found = std::fs::read_dir(&output_dir)
            .expect("listing the output dir")
            .filter_map(Result::ok)
            .any(|entry| entry.file_name().to_string_lossy().ends_with(screenshot));
        assert!(
            found,
            "no screenshot *{screenshot} in {}",
            output_dir.display()
        );
    }
}

/// Fails (never skips) when what the test needs is not installed.
fn check_prerequisites(browser_dir: &Path) {
    let mut missing = Vec::new();
    if !Path::new(CHROMIUM).exists() {
        missing.push(format!("{CHROMIUM} (Debian's `chromium` package)"));
    }
    let playwright = browser_dir.join("node_modules/playwright-core");
    if !playwright.join("package.json").exists() {
        missing.push(format!(
            "{} (`npm ci` in tests/browser)",
            playwright.display()
        ));
    }
    assert!(
        missing.is_empty(),
        "the browser test needs {}; run `.ci/run` (it installs them), or `apt-get install -y chromium` \
         and `npm ci --no-audit --no-fund` in tests/browser",
        missing.join(" and ")
    );
}

/// Five distinct 800×1000 JPEG photos of one person (the harness's: one
/// face the quality gate accepts, each with its own background and pose).
fn write_test_photos(output_dir: &Path) {
    for index in 0..PHOTO_COUNT {
        let jpeg = pinglass::harness::chat::photo_jpeg(
            &format!("browser-{}", index + 1),
            PHOTO_WIDTH,
            PHOTO_HEIGHT,
        );
        let path = output_dir.join(format!("photo-{}.jpg", index + 1));
        std::fs::write(&path, jpeg).expect("writing a test photo");
    }
}

/// Starts `pinglass run` in sandbox mode with its files in `temp` and its
/// logs in `log`; returns the guard and the chat page's address.
fn start_sandbox(crate_dir: &Path, temp: &Path, log: &Path) -> (KillOnDrop, String) {
    let log_file = File::create(log).expect("creating pinglass.log");
    let mut command = Command::new(env!("CARGO_BIN_EXE_pinglass"));
    // No secrets may reach it: an empty environment but PATH means the sandbox.
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // Plain logs in pinglass.log.
        .env("NO_COLOR", "1")
        .env("PINGLASS_DATABASE__PATH", temp.join("pinglass.sqlite3"))
        .env("PINGLASS_STORAGE__LOCAL_DIR", temp.join("objects"))
        .env("PINGLASS_SANDBOX__DATA_DIR", temp.join("sandbox"))
        .env("PINGLASS_SANDBOX__CHAT_PORT", "0")
        .env("PINGLASS_SANDBOX__KIE_LATENCY_SECS", "1")
        .env("PINGLASS_WORKER__PAYMENT_POLL_FAST_SECS", "1")
        .arg("--config")
        .arg(crate_dir.join("bot.toml"))
        .arg("run")
        .current_dir(temp)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log_file));
    let mut child = command.spawn().expect("starting the pinglass binary");
    let stdout = child.stdout.take().expect("the bot's stdout is piped");
    let bot = KillOnDrop(child);

    // The reader keeps draining stdout after the address so the bot never
    // writes into a full or closed pipe.
    let (lines_tx, lines_rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            let _ = lines_tx.send(line);
        }
    });
    let deadline = Instant::now() + SANDBOX_START_TIMEOUT;
    let mut printed = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines_rx.recv_timeout(left) {
            Ok(line) => {
                if let Some(at) = line.find(CHAT_PAGE_LINE) {
                    let url = line[at + CHAT_PAGE_LINE.len()..].trim().to_owned();
                    return (bot, url);
                }
                printed.push(line);
            }
            Err(error) => panic!(
                "`pinglass run` printed no chat page address ({}; {error}).\n\
                 stdout:\n{}\nstderr:\n{}",
                if error == mpsc::RecvTimeoutError::Timeout {
                    "timed out after 30 s"
                } else {
                    "it exited"
                },
                printed.join("\n"),
                last_lines(log, 80)
            ),
        }
    }
}

/// Runs `node tests/browser/e2e.mjs <url> <output dir>`, its output into
/// `log`; kills it after [`E2E_TIMEOUT`].
fn run_e2e(browser_dir: &Path, chat_url: &str, output_dir: &Path, log: &Path) -> ExitStatus {
    let log_file = File::create(log).expect("creating e2e.log");
    let stderr_file = log_file.try_clone().expect("cloning the e2e.log handle");
    let child = Command::new("node")
        .arg(browser_dir.join("e2e.mjs"))
        .arg(chat_url)
        .arg(output_dir)
        .current_dir(browser_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(stderr_file))
        .spawn()
        .unwrap_or_else(|error| {
            panic!("starting `node` failed ({error}); run `.ci/run`, which installs what this test needs")
        });
    let mut node = KillOnDrop(child);
    let deadline = Instant::now() + E2E_TIMEOUT;
    loop {
        if let Some(status) = node.0.try_wait().expect("waiting for node") {
            return status;
        }
        if Instant::now() > deadline {
            drop(node);
            panic!(
                "e2e.mjs did not finish in {} s; its output so far:\n{}",
                E2E_TIMEOUT.as_secs(),
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        // Polls the node process driving the browser; returns once it exits.
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn last_lines(path: &Path, count: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(count)..].join("\n")
}
