//! Running the real kubectl and helm binaries against a kubesim (shared by kubectl.rs and helm.rs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// `.tools/bin/<name>`, or a panic that says how to get it.
pub fn tool(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../.tools/bin")
        .join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-tools.sh first",
        p.display()
    );
    p
}

/// A fresh scratch directory for one test.
pub fn scratch(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    // Under target/tmp, so runs leave nothing in the system temp dir.
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "kubesim-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Output of a finished command.
#[derive(Debug)]
pub struct Out {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

/// A kubectl or helm bound to one kubesim through its own kubeconfig and caches.
pub struct Cli {
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
}

impl Cli {
    pub fn new(handle: &kubesim::Handle, tag: &str) -> Self {
        let dir = scratch(tag);
        let kubeconfig = dir.join("kubeconfig");
        handle.write_kubeconfig(&kubeconfig).expect("kubeconfig");
        Cli { dir, kubeconfig }
    }

    pub fn command(&self, bin: &str) -> tokio::process::Command {
        let mut c = tokio::process::Command::new(tool(bin));
        c.env("KUBECONFIG", &self.kubeconfig)
            .env("HOME", &self.dir)
            .env("HELM_CACHE_HOME", self.dir.join("helm-cache"))
            .env("HELM_CONFIG_HOME", self.dir.join("helm-config"))
            .env("HELM_DATA_HOME", self.dir.join("helm-data"))
            .kill_on_drop(true);
        if bin == "kubectl" {
            c.arg("--cache-dir").arg(self.dir.join("kube-cache"));
        }
        c
    }

    pub async fn run(&self, bin: &str, args: &[&str]) -> Out {
        let out = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            self.command(bin).args(args).output(),
        )
        .await
        .unwrap_or_else(|_| panic!("{bin} {args:?} timed out"))
        .expect("spawn");
        Out {
            ok: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// Runs and asserts success; returns stdout.
    pub async fn ok(&self, bin: &str, args: &[&str]) -> String {
        let o = self.run(bin, args).await;
        assert!(o.ok, "{bin} {args:?} failed:\n{}\n{}", o.stdout, o.stderr);
        o.stdout
    }

    pub fn write(&self, rel: &str, content: &str) -> PathBuf {
        let p = self.dir.join(rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&p, content).expect("write");
        p
    }
}

/// `kubectl get <what> -o json`, parsed.
pub async fn get_json(k: &Cli, what: &[&str]) -> serde_json::Value {
    let mut args = vec!["get"];
    args.extend_from_slice(what);
    args.extend_from_slice(&["-o", "json"]);
    serde_json::from_str(&k.ok("kubectl", &args).await).unwrap()
}
