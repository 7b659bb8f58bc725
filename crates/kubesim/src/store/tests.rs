use super::*;

fn cm(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}})
}

#[test]
fn create_get_update_conflict() {
    let s = Store::new(100);
    let gvr = Gvr::configmaps();
    let c = s.create(&gvr, Some("default"), cm("a")).unwrap();
    assert!(!meta_str(&c, "uid").is_empty());
    let rv1 = meta_str(&c, "resourceVersion").to_string();
    let mut u = c.clone();
    u["data"]["a"] = json!("2");
    let u2 = s.update(&gvr, Some("default"), u.clone()).unwrap();
    assert_ne!(meta_str(&u2, "resourceVersion"), rv1);
    let e = s.update(&gvr, Some("default"), u).unwrap_err();
    assert_eq!(e.code, 409);
    let e = s.create(&gvr, Some("default"), cm("a")).unwrap_err();
    assert_eq!(e.reason, Reason::AlreadyExists);
    let e = s.create(&gvr, Some("nope"), cm("b")).unwrap_err();
    assert_eq!(e.code, 404);
}

#[test]
fn noop_update_keeps_rv() {
    let s = Store::new(100);
    let gvr = Gvr::configmaps();
    let c = s.create(&gvr, Some("default"), cm("a")).unwrap();
    let same = s.mutate(&gvr, Some("default"), "a", |_| Ok(())).unwrap();
    assert_eq!(
        meta_str(&same, "resourceVersion"),
        meta_str(&c, "resourceVersion")
    );
}

#[test]
fn pages() {
    let s = Store::new(100);
    let gvr = Gvr::configmaps();
    for i in 0..5 {
        s.create(&gvr, Some("default"), cm(&format!("c{i}")))
            .unwrap();
    }
    let mut opts = ListOptions {
        namespace: Some("default".into()),
        limit: Some(2),
        ..Default::default()
    };
    let mut names = Vec::new();
    loop {
        let page = s.list(&gvr, &opts).unwrap();
        names.extend(page.items.iter().map(|i| meta_str(i, "name").to_string()));
        match page.continue_token {
            Some(t) => opts.continue_token = Some(t),
            None => break,
        }
    }
    assert_eq!(names, ["c0", "c1", "c2", "c3", "c4"]);
}

#[test]
fn status_is_separate() {
    let s = Store::new(100);
    let gvr = Gvr::jobs();
    let job = json!({"metadata": {"name": "j"}, "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}}}, "status": {"active": 3}});
    let j = s.create(&gvr, Some("default"), job).unwrap();
    assert!(j.get("status").is_none());
    assert_eq!(j["metadata"]["generation"], 1);
    let j = s
        .mutate_status(&gvr, Some("default"), "j", |o| {
            o["status"]["active"] = json!(1);
            o["spec"]["parallelism"] = json!(5);
            Ok(())
        })
        .unwrap();
    assert_eq!(j["status"]["active"], 1);
    assert_eq!(j["spec"]["parallelism"], 1);
    assert_eq!(j["metadata"]["generation"], 1);
    let j = s
        .mutate(&gvr, Some("default"), "j", |o| {
            o["status"]["active"] = json!(7);
            o["spec"]["parallelism"] = json!(2);
            Ok(())
        })
        .unwrap();
    assert_eq!(j["status"]["active"], 1);
    assert_eq!(j["spec"]["parallelism"], 2);
    assert_eq!(j["metadata"]["generation"], 2);
}

#[test]
fn finalizers_hold_deletion() {
    let s = Store::new(100);
    let gvr = Gvr::configmaps();
    let mut o = cm("f");
    o["metadata"]["finalizers"] = json!(["x/y"]);
    s.create(&gvr, Some("default"), o).unwrap();
    let d = s
        .delete(&gvr, Some("default"), "f", &DeleteOptions::default())
        .unwrap();
    assert!(matches!(d, Deleted::Pending(_)));
    s.mutate(&gvr, Some("default"), "f", |o| {
        o["metadata"]["finalizers"] = json!([]);
        Ok(())
    })
    .unwrap();
    assert_eq!(s.get(&gvr, Some("default"), "f").unwrap_err().code, 404);
}

#[test]
fn watch_replay_and_expiry() {
    let s = Store::new(3);
    let gvr = Gvr::configmaps();
    let rv0 = s.resource_version();
    for i in 0..2 {
        s.create(&gvr, Some("default"), cm(&format!("w{i}")))
            .unwrap();
    }
    let w = s.watch(&gvr, None, WatchStart::After(rv0)).unwrap();
    assert_eq!(w.initial.len(), 2);
    for i in 2..6 {
        s.create(&gvr, Some("default"), cm(&format!("w{i}")))
            .unwrap();
    }
    assert_eq!(
        s.watch(&gvr, None, WatchStart::After(rv0))
            .unwrap_err()
            .code,
        410
    );
    s.expire_watch_history();
    let now = s.resource_version();
    assert!(s.watch(&gvr, None, WatchStart::After(now)).is_ok());
    assert_eq!(
        s.watch(&gvr, None, WatchStart::After(now - 1))
            .unwrap_err()
            .code,
        410
    );
}
