//! The real kubectl 1.33's tables (`as=Table`) against kubesim.

mod common;
mod tools;

use common::sim;
use kubesim::Gvr;
use serde_json::json;
use tools::{Cli, get_json};

/// The row of `name` (first column) in kubectl's table output, split on runs of 2+ spaces.
fn row_of(out: &str, name: &str) -> Option<Vec<String>> {
    out.lines().find_map(|l| {
        let cells: Vec<String> = l
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(String::from)
            .collect();
        (cells.first().map(String::as_str) == Some(name)).then_some(cells)
    })
}

fn header(out: &str) -> Vec<String> {
    row_of(out, "NAME").unwrap_or_default()
}

const DONE_JOB: &str = r#"apiVersion: batch/v1
kind: Job
metadata: {name: done}
spec:
  backoffLimit: 0
  template:
    metadata:
      annotations: {kubesim.dev/exit-after: "0", kubesim.dev/exit-code: "0"}
    spec:
      restartPolicy: Never
      containers: [{name: main, image: busybox}]
"#;

/// `kubectl get` asks for `as=Table`: the server renders Kubernetes 1.33's columns.
#[tokio::test]
async fn get_prints_server_side_columns() {
    let handle = kubesim::start(
        kubesim::Config::default()
            .control_plane(true)
            .time_scale(kubesim::sim::TimeScale::new(0.01).unwrap()),
    )
    .await
    .expect("start kubesim");
    let k = Cli::new(&handle, "kubectl-table");
    k.ok(
        "kubectl",
        &[
            "create",
            "job",
            "busy",
            "--image=busybox",
            "--",
            "sleep",
            "3600",
        ],
    )
    .await;
    let done = k.write("done.yaml", DONE_JOB);
    k.ok("kubectl", &["apply", "-f", done.to_str().unwrap()])
        .await;

    // A running pod: READY 1/1, STATUS Running, RESTARTS 0.
    let pods = common::eventually(20, "a Running busy pod in kubectl get pods", || async {
        let out = k.ok("kubectl", &["get", "pods"]).await;
        out.lines()
            .any(|l| l.starts_with("busy-") && l.contains("Running"))
            .then_some(out)
    })
    .await;
    assert_eq!(
        header(&pods),
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    let busy = pods.lines().find(|l| l.starts_with("busy-")).unwrap();
    let cells: Vec<&str> = busy.split_whitespace().collect();
    assert_eq!(cells[1..4], ["1/1", "Running", "0"], "{pods}");
    // The finished pod: 0/1 Completed.
    let done_pod = common::eventually(20, "a Completed done pod", || async {
        let out = k.ok("kubectl", &["get", "pods"]).await;
        out.lines()
            .find(|l| l.starts_with("done-"))
            .filter(|l| l.contains("Completed"))
            .map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
    })
    .await;
    assert_eq!(done_pod[1..4], ["0/1", "Completed", "0"]);

    // -o wide adds the priority-1 columns.
    let wide = k.ok("kubectl", &["get", "pods", "-o", "wide"]).await;
    assert_eq!(
        header(&wide),
        [
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES"
        ]
    );
    let busy = wide.lines().find(|l| l.starts_with("busy-")).unwrap();
    assert!(busy.contains("kubesim-node-0"), "{wide}");

    // Jobs: STATUS, COMPLETIONS, DURATION.
    let jobs = common::eventually(20, "job done Complete", || async {
        let out = k.ok("kubectl", &["get", "jobs"]).await;
        row_of(&out, "done")
            .filter(|r| r[1] == "Complete")
            .map(|_| out)
    })
    .await;
    assert_eq!(
        header(&jobs),
        ["NAME", "STATUS", "COMPLETIONS", "DURATION", "AGE"]
    );
    assert_eq!(row_of(&jobs, "done").unwrap()[2], "1/1", "{jobs}");
    assert_eq!(row_of(&jobs, "busy").unwrap()[1..3], ["Running", "0/1"]);
    let wide = k.ok("kubectl", &["get", "job", "busy", "-o", "wide"]).await;
    let row = row_of(&wide, "busy").unwrap();
    assert_eq!(row[5..7], ["busy", "busybox"], "{wide}");
    assert!(
        row[7].starts_with("batch.kubernetes.io/controller-uid="),
        "{wide}"
    );

    // --sort-by asks for whole objects (includeObject=Object) and sorts on the client.
    let sorted = k
        .ok("kubectl", &["get", "jobs", "--sort-by=.metadata.name"])
        .await;
    let names: Vec<&str> = sorted
        .lines()
        .skip(1)
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(names, ["busy", "done"], "{sorted}");
    assert!(
        handle
            .requests()
            .iter()
            .any(|r| r.resource == "jobs" && r.query.contains("includeObject=Object")),
        "kubectl --sort-by asked for includeObject=Object"
    );

    // -A adds NAMESPACE from each row's PartialObjectMetadata; --show-labels reads it too.
    let all = k
        .ok("kubectl", &["get", "pods", "-A", "--show-labels"])
        .await;
    let head: Vec<&str> = all.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(head[..3], ["NAMESPACE", "NAME", "READY"], "{all}");
    let busy = all.lines().find(|l| l.contains("busy-")).unwrap();
    assert!(busy.starts_with("default "), "{all}");
    assert!(busy.contains("job-name=busy"), "{all}");

    // Events: LAST SEEN TYPE REASON OBJECT MESSAGE.
    let events = common::eventually(20, "the Completed event of job done", || async {
        let out = k.ok("kubectl", &["get", "events"]).await;
        out.lines()
            .any(|l| l.contains("job/done") && l.contains("Completed"))
            .then_some(out)
    })
    .await;
    let head: Vec<&str> = events
        .lines()
        .next()
        .unwrap()
        .split("  ")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect();
    assert_eq!(
        head,
        ["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
        "{events}"
    );

    // Other printers: namespaces, nodes, configmaps.
    let ns = k.ok("kubectl", &["get", "ns", "default"]).await;
    assert_eq!(header(&ns), ["NAME", "STATUS", "AGE"]);
    assert_eq!(row_of(&ns, "default").unwrap()[1], "Active");
    let nodes = k.ok("kubectl", &["get", "nodes"]).await;
    assert_eq!(
        header(&nodes),
        ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    );
    assert_eq!(row_of(&nodes, "kubesim-node-0").unwrap()[1], "Ready");

    // The machine formats still get plain objects.
    let list = get_json(&k, &["jobs"]).await;
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["kind"], "Job");
    let one = get_json(&k, &["job", "done"]).await;
    assert_eq!(one["kind"], "Job");
    assert_eq!(one["status"]["succeeded"], 1);
    let name = k.ok("kubectl", &["get", "job", "-o", "name"]).await;
    assert_eq!(
        name.lines().collect::<Vec<_>>(),
        ["job.batch/busy", "job.batch/done"]
    );
}

const PRINTER_CRD: &str = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: jobterminations.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: jobterminations, singular: jobtermination, kind: JobTermination, listKind: JobTerminationList}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    additionalPrinterColumns:
    - {name: Phase, type: string, jsonPath: .status.phase}
    - {name: Attempts, type: integer, jsonPath: .spec.attempts}
    - {name: Queue, type: string, jsonPath: .spec.queue, priority: 1}
    - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              attempts: {type: integer}
              queue: {type: string}
          status:
            type: object
            properties:
              phase: {type: string}
"#;

/// A CRD's `additionalPrinterColumns` become the table's columns.
#[tokio::test]
async fn get_prints_crd_printer_columns() {
    let s = sim().await;
    let k = Cli::new(&s.handle, "kubectl-crd-table");
    let crd = k.write("crd.yaml", PRINTER_CRD);
    k.ok("kubectl", &["apply", "-f", crd.to_str().unwrap()])
        .await;
    let cr = k.write(
        "cr.yaml",
        "apiVersion: example.com/v1\nkind: JobTermination\nmetadata: {name: t1}\nspec: {attempts: 3, queue: q1}\n",
    );
    common::eventually(10, "the CR created", || async {
        k.run("kubectl", &["apply", "-f", cr.to_str().unwrap()])
            .await
            .ok
            .then_some(())
    })
    .await;
    s.handle
        .store()
        .mutate_status(
            &Gvr::new("example.com", "v1", "jobterminations"),
            Some("default"),
            "t1",
            |o| {
                o["status"] = json!({"phase": "Terminating"});
                Ok(())
            },
        )
        .unwrap();
    let out = k.ok("kubectl", &["get", "jobterminations"]).await;
    assert_eq!(header(&out), ["NAME", "PHASE", "ATTEMPTS", "AGE"], "{out}");
    let row = row_of(&out, "t1").unwrap();
    assert_eq!(row[1..3], ["Terminating", "3"], "{out}");
    assert!(row[3].ends_with('s'), "AGE is a duration: {out}");
    let wide = k
        .ok("kubectl", &["get", "jobterminations", "-o", "wide"])
        .await;
    assert_eq!(
        header(&wide),
        ["NAME", "PHASE", "ATTEMPTS", "QUEUE", "AGE"],
        "{wide}"
    );
    assert_eq!(row_of(&wide, "t1").unwrap()[3], "q1");
    // A missing value is a null cell, which kubectl prints as blank.
    k.write(
        "cr2.yaml",
        "apiVersion: example.com/v1\nkind: JobTermination\nmetadata: {name: t2}\nspec: {}\n",
    );
    k.ok(
        "kubectl",
        &["apply", "-f", k.dir.join("cr2.yaml").to_str().unwrap()],
    )
    .await;
    let out = k.ok("kubectl", &["get", "jobterminations", "t2"]).await;
    let row = row_of(&out, "t2").unwrap();
    assert_eq!(row.len(), 2, "{out}");
    assert!(row[1].ends_with('s'), "{out}");
    let one = get_json(&k, &["jobterminations", "t1"]).await;
    assert_eq!(one["spec"]["attempts"], 3);
}
