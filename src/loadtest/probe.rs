//! The bot under test as a child process of the same binary, and what is
//! read from it: peak RSS and CPU time from `/proc`, the update count and
//! the handler latency quantiles from its `/metrics`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::Context;

/// Everything the child's environment needs (the rest comes from the
/// configuration file, as in production).
pub(crate) struct BotSpec {
    pub(crate) exe: PathBuf,
    pub(crate) config: PathBuf,
    pub(crate) dir: PathBuf,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) metrics: SocketAddr,
}

/// What `/proc` says about one bot process.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ProcStats {
    /// Peak resident set (VmHWM), bytes.
    pub(crate) peak_rss: u64,
    /// User + system CPU time, seconds.
    pub(crate) cpu_secs: f64,
}

/// Clock ticks per second of `/proc/<pid>/stat` (USER_HZ: 100 on Linux).
const USER_HZ: f64 = 100.0;

pub(crate) fn proc_stats(pid: u32) -> Option<ProcStats> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    let peak_rss = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status.lines().find_map(|line| {
                let kb = line.strip_prefix("VmHWM:")?.trim().strip_suffix("kB")?;
                kb.trim().parse::<u64>().ok()
            })
        })
        .map_or(0, |kb| kb * 1024);
    Some(ProcStats {
        peak_rss,
        cpu_secs: ticks as f64 / USER_HZ,
    })
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let rest = &stat[stat.rfind(')')? + 2..];
            rest.split_whitespace().next().map(|state| state == "Z")
        })
        .unwrap_or(true)
}

/// The figures of one `/metrics` scrape.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Scrape {
    /// Updates through the handler tree (every outcome).
    pub(crate) updates: f64,
    /// Seconds: p50, p95, p99, max.
    pub(crate) quantiles: [f64; 4],
    pub(crate) retry_after: f64,
    /// Updates of flooding chats absorbed before the handler tree.
    pub(crate) dropped: f64,
    /// Database backups written, their seconds in all, the last one's size.
    pub(crate) backups: f64,
    pub(crate) backup_secs: f64,
    pub(crate) backup_bytes: f64,
}

/// Sums the samples of `name` whose labels include all of `labels`.
pub(crate) fn metric(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    let mut found = None;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        if series.split('{').next() != Some(name)
            || !labels
                .iter()
                .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
        {
            continue;
        }
        if let Ok(value) = value.parse::<f64>() {
            *found.get_or_insert(0.0) += value;
        }
    }
    found
}

pub(crate) fn parse_scrape(text: &str) -> Scrape {
    let q = |q: &str| {
        metric(text, "pinglass_update_latency_seconds", &[("quantile", q)]).unwrap_or(0.0)
    };
    Scrape {
        updates: metric(text, "pinglass_updates_total", &[]).unwrap_or(0.0),
        quantiles: [q("0.5"), q("0.95"), q("0.99"), q("1")],
        retry_after: metric(text, "pinglass_telegram_retry_after_total", &[]).unwrap_or(0.0),
        dropped: metric(text, "pinglass_flood_dropped_total", &[]).unwrap_or(0.0),
        backups: metric(text, "pinglass_backup_seconds_count", &[]).unwrap_or(0.0),
        backup_secs: metric(text, "pinglass_backup_seconds_sum", &[]).unwrap_or(0.0),
        backup_bytes: metric(text, "pinglass_backup_bytes", &[]).unwrap_or(0.0),
    }
}

/// One running bot process and what its earlier lives left behind.
pub(crate) struct Bot {
    spec: BotSpec,
    child: Option<Child>,
    http: reqwest::Client,
    pub(crate) starts: u32,
    /// Peak RSS over every life, bytes.
    pub(crate) peak_rss: u64,
    /// CPU seconds of the lives that ended.
    pub(crate) cpu_ended: f64,
    /// The last scrape of each life that ended.
    pub(crate) scrapes_ended: Vec<Scrape>,
    /// The last scrape of the current life.
    pub(crate) last_scrape: Option<Scrape>,
}

impl Bot {
    pub(crate) fn new(spec: BotSpec) -> Self {
        Self {
            spec,
            child: None,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(5))
                .build()
                .unwrap_or_default(),
            starts: 0,
            peak_rss: 0,
            cpu_ended: 0.0,
            scrapes_ended: Vec::new(),
            last_scrape: None,
        }
    }

    pub(crate) fn db_path(&self) -> PathBuf {
        self.spec.dir.join("pinglass.sqlite3")
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.spec.dir
    }

    pub(crate) fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(self.child.is_none(), "the bot is already running");
        self.starts += 1;
        let log = std::fs::File::create(self.spec.dir.join(format!("bot-{}.log", self.starts)))?;
        let mut command = Command::new(&self.spec.exe);
        command
            .arg("--config")
            .arg(&self.spec.config)
            .arg("run")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log);
        for (key, value) in &self.spec.env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .with_context(|| format!("starting {}", self.spec.exe.display()))?;
        self.child = Some(child);
        self.last_scrape = None;
        Ok(())
    }

    /// The child's exit status, when it ended without being asked to.
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    pub(crate) fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Reads `/proc` and `/metrics` of the running process.
    pub(crate) async fn sample(&mut self) -> Option<(ProcStats, Option<Scrape>)> {
        let pid = self.pid()?;
        let stats = proc_stats(pid)?;
        self.peak_rss = self.peak_rss.max(stats.peak_rss);
        let url = format!("http://{}/metrics", self.spec.metrics);
        let scrape = match self.http.get(&url).send().await {
            Ok(response) => response.text().await.ok().map(|t| parse_scrape(&t)),
            Err(_) => None,
        };
        if let Some(scrape) = scrape {
            self.last_scrape = Some(scrape);
        }
        Some((stats, scrape))
    }

    /// Waits for the child to end (it was signalled), reading its CPU time
    /// while it is a zombie, before reaping it.
    async fn reap(&mut self, signal: &str, timeout: Duration) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        let pid = child.id();
        let mut last = proc_stats(pid).unwrap_or_default();
        self.peak_rss = self.peak_rss.max(last.peak_rss);
        let _ = Command::new("kill")
            .args([signal, &pid.to_string()])
            .status();
        let deadline = tokio::time::Instant::now() + timeout;
        while !is_zombie(pid) {
            if tokio::time::Instant::now() >= deadline {
                let _ = child.kill();
                break;
            }
            if let Some(stats) = proc_stats(pid) {
                last = ProcStats {
                    peak_rss: stats.peak_rss.max(last.peak_rss),
                    ..stats
                };
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if let Some(stats) = proc_stats(pid) {
            last.cpu_secs = last.cpu_secs.max(stats.cpu_secs);
        }
        child.wait()?;
        self.peak_rss = self.peak_rss.max(last.peak_rss);
        self.cpu_ended += last.cpu_secs;
        if let Some(scrape) = self.last_scrape.take() {
            self.scrapes_ended.push(scrape);
        }
        Ok(())
    }

    /// SIGKILL: no graceful anything (the last scrape is taken first).
    pub(crate) async fn kill(&mut self) -> anyhow::Result<()> {
        let _ = self.sample().await;
        self.reap("-KILL", Duration::from_secs(10)).await
    }

    /// SIGTERM and a graceful stop.
    pub(crate) async fn stop(&mut self) -> anyhow::Result<()> {
        let _ = self.sample().await;
        self.reap("-TERM", Duration::from_secs(30)).await
    }

    /// Every life's last scrape (the current one included).
    pub(crate) fn scrapes(&self) -> Vec<Scrape> {
        let mut all = self.scrapes_ended.clone();
        all.extend(self.last_scrape);
        all
    }
}

impl Drop for Bot {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_gives_the_count_and_the_quantiles() {
        let text = "# TYPE pinglass_updates_total counter\n\
            pinglass_updates_total{outcome=\"handled\"} 40\n\
            pinglass_updates_total{outcome=\"ignored\"} 2\n\
            # TYPE pinglass_update_latency_seconds summary\n\
            pinglass_update_latency_seconds{quantile=\"0.5\"} 0.002\n\
            pinglass_update_latency_seconds{quantile=\"0.95\"} 0.01\n\
            pinglass_update_latency_seconds{quantile=\"0.99\"} 0.02\n\
            pinglass_update_latency_seconds{quantile=\"1\"} 0.5\n\
            pinglass_update_latency_seconds_sum 0.3\n\
            pinglass_update_latency_seconds_count 42\n";
        let scrape = parse_scrape(text);
        assert_eq!(scrape.updates, 42.0);
        assert_eq!(scrape.quantiles, [0.002, 0.01, 0.02, 0.5]);
    }

    #[test]
    fn this_process_has_a_peak_rss_and_cpu_time() {
        let stats = proc_stats(std::process::id()).expect("proc stats");
        assert!(stats.peak_rss > 1_000_000, "{stats:?}");
        assert!(stats.cpu_secs >= 0.0);
    }
}
