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

/// The feed keeps every change, in order, however far its reader falls behind (the broadcast
/// channel of `subscribe` lags past its capacity).
#[tokio::test]
async fn the_feed_is_lossless_past_the_broadcast_capacity() {
    let s = Store::new(1);
    let mut feed = s.feed();
    let mut lagging = s.subscribe();
    for i in 0..3000 {
        s.create(&Gvr::configmaps(), Some("default"), cm(&format!("c{i:04}")))
            .unwrap();
    }
    assert!(matches!(
        lagging.try_recv(),
        Err(broadcast::error::TryRecvError::Lagged(_))
    ));
    for i in 0..3000 {
        let ev = feed.try_recv().expect("an event");
        assert_eq!(ev.event_type, EventType::Added);
        assert_eq!(meta_str(&ev.object, "name"), format!("c{i:04}"));
    }
    assert!(feed.try_recv().is_err());
}

fn pod(name: &str, node: Option<&str>) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}});
    if let Some(n) = node {
        p["spec"]["nodeName"] = json!(n);
    }
    p
}

fn names(pods: &[Arc<Value>]) -> Vec<&str> {
    pods.iter().map(|p| meta_str(p, "name")).collect()
}

/// The pods-by-node index follows creation, binding and removal.
#[test]
fn pods_on_node_follows_binding_and_removal() {
    let s = Store::new(100);
    let gvr = Gvr::pods();
    s.create(&gvr, Some("default"), pod("bound", Some("n1")))
        .unwrap();
    s.create(&gvr, Some("default"), pod("later", None)).unwrap();
    s.create(&gvr, Some("default"), pod("elsewhere", Some("n2")))
        .unwrap();
    assert_eq!(names(&s.pods_on_node("n1")), ["bound"]);
    s.mutate(&gvr, Some("default"), "later", |p| {
        p["spec"]["nodeName"] = json!("n1");
        Ok(())
    })
    .unwrap();
    assert_eq!(names(&s.pods_on_node("n1")), ["bound", "later"]);
    s.force_remove(&gvr, Some("default"), "bound").unwrap();
    assert_eq!(names(&s.pods_on_node("n1")), ["later"]);
    assert_eq!(names(&s.pods_on_node("n2")), ["elsewhere"]);
    assert!(s.pods_on_node("n3").is_empty());
}

/// The owner index answers who depends on an owner, and forgets a dependent once its
/// ownerReference or the dependent itself goes.
#[test]
fn dependents_follow_owner_references() {
    let s = Store::new(100);
    let gvr = Gvr::configmaps();
    let owned = |name: &str, uid: &str| {
        let mut c = cm(name);
        c["metadata"]["ownerReferences"] =
            json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "o", "uid": uid}]);
        c
    };
    s.create(&gvr, Some("default"), owned("a", "u1")).unwrap();
    s.create(&gvr, Some("default"), owned("b", "u1")).unwrap();
    s.create(&gvr, Some("default"), owned("c", "u2")).unwrap();
    let keys =
        |uid: &str| -> Vec<String> { s.dependents_of(uid).into_iter().map(|(_, k)| k.1).collect() };
    assert_eq!(keys("u1"), ["a", "b"]);
    s.mutate(&gvr, Some("default"), "a", |c| {
        if let Some(m) = c["metadata"].as_object_mut() {
            m.remove("ownerReferences");
        }
        Ok(())
    })
    .unwrap();
    assert_eq!(keys("u1"), ["b"]);
    s.force_remove(&gvr, Some("default"), "b").unwrap();
    assert!(keys("u1").is_empty());
    assert_eq!(keys("u2"), ["c"]);
}

/// Shared reads hand out the stored object itself, not a copy.
#[test]
fn shared_reads_do_not_copy() {
    let s = Store::new(100);
    let gvr = Gvr::configmaps();
    s.create(&gvr, Some("default"), cm("a")).unwrap();
    let one = s.get_shared(&gvr, Some("default"), "a").unwrap();
    let two = s.get_shared(&gvr, Some("default"), "a").unwrap();
    assert!(Arc::ptr_eq(&one, &two));
    let listed = s.list_shared(&gvr, &ListOptions::default()).unwrap();
    assert!(Arc::ptr_eq(&listed[0], &one));
    assert_eq!(*one, s.get(&gvr, Some("default"), "a").unwrap());
}

#[test]
fn writes_answer_the_stored_object_without_copying_it() {
    let s = Store::new(100);
    let gvr = Gvr::configmaps();
    let created = s
        .create_with(&gvr, Some("default"), cm("a"), &WriteOptions::default())
        .unwrap();
    let stored = s.get_shared(&gvr, Some("default"), "a").unwrap();
    assert!(Arc::ptr_eq(&created.object, &stored));
    let updated = s
        .mutate_with(
            &gvr,
            Some("default"),
            "a",
            Subresource::Main,
            &WriteOptions::default(),
            |o| {
                o["data"]["a"] = json!("2");
                Ok(())
            },
        )
        .unwrap();
    let stored = s.get_shared(&gvr, Some("default"), "a").unwrap();
    assert!(Arc::ptr_eq(&updated.object, &stored));
    assert_eq!(stored["data"]["a"], "2");
}

#[test]
fn a_create_checks_its_namespace_before_its_validity() {
    // Validation runs before the lock, but its errors still come after the namespace's.
    let s = Store::new(100);
    let gvr = Gvr::configmaps();
    let invalid =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_Valid"}});
    let e = s.create(&gvr, Some("nope"), invalid.clone()).unwrap_err();
    assert_eq!(e.reason, Reason::NotFound, "{e:?}");
    let e = s.create(&gvr, Some("default"), invalid).unwrap_err();
    assert_eq!(e.code, 422, "{e:?}");
    let dup = s.create(&gvr, Some("default"), cm("a"));
    assert!(dup.is_ok());
    let e = s.create(&gvr, Some("default"), cm("a")).unwrap_err();
    assert_eq!(e.reason, Reason::AlreadyExists);
}

#[test]
fn concurrent_creates_of_one_name_store_one_object() {
    // The uniqueness check and the stored change share one hold of the lock.
    let s = Store::new(100);
    let gvr = Gvr::configmaps();
    let outcomes: Vec<bool> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|_| scope.spawn(|| s.create(&gvr, Some("default"), cm("same")).is_ok()))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1);
    assert_eq!(
        s.list(&gvr, &ListOptions::default()).unwrap().items.len(),
        1
    );
}

#[test]
fn an_object_nobody_holds_is_kept_as_bytes_and_parsed_on_read() {
    // A log of one event and no subscriber: after the next write nothing holds "a"'s value.
    let s = Store::new(1);
    let gvr = Gvr::configmaps();
    let created = s.create(&gvr, Some("default"), cm("a")).unwrap();
    // More writes than the broadcast channel keeps (1,024).
    for i in 0..1100 {
        s.create(&gvr, Some("default"), cm(&format!("b{i}")))
            .unwrap();
    }
    let one = s.get_shared(&gvr, Some("default"), "a").unwrap();
    let two = s.get_shared(&gvr, Some("default"), "a").unwrap();
    assert!(!Arc::ptr_eq(&one, &two), "each read parses the bytes");
    assert_eq!(*one, created);
    assert_eq!(*two, created);
    let listed = s.list_shared(&gvr, &ListOptions::default()).unwrap();
    assert_eq!(*listed[0], created);
    let st = s.lock();
    let key = ("default".to_string(), "a".to_string());
    let entry = st.entry(&StorageKey::new("", "configmaps"), &key).unwrap();
    assert_eq!(
        entry.json_len(),
        serde_json::to_vec(&created).unwrap().len(),
        "only the JSON is held"
    );
}

/// Another writer's change of ConfigMap "a" (`data.b`), committed while an edit runs.
fn set_b_meanwhile(other: &Store) {
    other
        .mutate(&Gvr::configmaps(), Some("default"), "a", |o| {
            o["data"]["b"] = json!("other");
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_write_between_read_and_commit_makes_the_edit_run_again_on_the_new_version() {
    let s = Store::new(100);
    let gvr = Gvr::configmaps();
    let c = s.create(&gvr, Some("default"), cm("a")).unwrap();
    let rv0: u64 = meta_str(&c, "resourceVersion").parse().unwrap();
    let mut feed = s.feed();
    let mut seen = Vec::new();
    let other = s.clone();
    let out = s
        .mutate(&gvr, Some("default"), "a", |o| {
            seen.push(o["data"].clone());
            if seen.len() == 1 {
                // The edit runs without the lock: another writer commits first.
                set_b_meanwhile(&other);
            }
            o["data"]["a"] = json!("mine");
            Ok(())
        })
        .unwrap();
    assert_eq!(
        seen,
        [json!({"a": "1"}), json!({"a": "1", "b": "other"})],
        "the edit ran again on the other writer's version"
    );
    assert_eq!(out["data"], json!({"a": "mine", "b": "other"}));
    assert_eq!(meta_str(&out, "resourceVersion"), (rv0 + 2).to_string());
    let first = feed.try_recv().unwrap();
    let second = feed.try_recv().unwrap();
    assert_eq!(
        (first.resource_version, second.resource_version),
        (rv0 + 1, rv0 + 2),
        "events in resourceVersion order"
    );
    assert_eq!(second.previous.unwrap()["data"]["b"], "other");
    assert!(feed.try_recv().is_err());
}

#[test]
fn a_stale_resource_version_still_conflicts_when_the_object_changes_before_commit() {
    let s = Store::new(100);
    let gvr = Gvr::configmaps();
    s.create(&gvr, Some("default"), cm("a")).unwrap();
    let other = s.clone();
    let mut pinned: Option<Value> = None;
    let mut runs = 0;
    // As a patch carrying the client's resourceVersion: pinned to the first version read.
    let err = s
        .mutate(&gvr, Some("default"), "a", |o| {
            runs += 1;
            let rv = pinned.get_or_insert_with(|| o["metadata"]["resourceVersion"].clone());
            o["metadata"]["resourceVersion"] = rv.clone();
            if runs == 1 {
                set_b_meanwhile(&other);
            }
            o["data"]["a"] = json!("mine");
            Ok(())
        })
        .unwrap_err();
    assert_eq!(err.code, 409);
    assert_eq!(runs, 2);
    let now = s.get(&gvr, Some("default"), "a").unwrap();
    assert_eq!(
        now["data"],
        json!({"a": "1", "b": "other"}),
        "nothing stored"
    );
}

#[test]
fn concurrent_read_modify_writes_lose_no_update() {
    let s = Store::new(10_000);
    let gvr = Gvr::configmaps();
    s.create(
        &gvr,
        Some("default"),
        json!({"metadata": {"name": "n"}, "data": {"n": "0"}}),
    )
    .unwrap();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = s.clone();
            std::thread::spawn(move || {
                for _ in 0..100 {
                    s.mutate(&Gvr::configmaps(), Some("default"), "n", |o| {
                        let n: u64 = o["data"]["n"].as_str().unwrap().parse().unwrap();
                        o["data"]["n"] = json!((n + 1).to_string());
                        Ok(())
                    })
                    .unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let n = s.get(&gvr, Some("default"), "n").unwrap();
    assert_eq!(n["data"]["n"], "400");
}
