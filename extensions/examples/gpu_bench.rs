//! GNN benchmark on the GPU: Argus's CUDA backend against PyTorch Geometric on the same GPU, in
//! one run, on tolokers (hidden 256, 2 layers, residual + layer norm) and on a random graph of
//! 1 M nodes and 20 M messages (64 input features, hidden 128, 2 layers): full-graph inference
//! and one training step (forward, weighted BCE, backward, AdamW), each timed to completion
//! (device synchronised) as the median of `--runs`, plus the memory-bandwidth floor of the
//! aggregation: bytes of neighbour rows gathered and rows written, over a measured
//! device-to-device copy rate.
//!
//! Before timing, the GPU's logits are checked against the CPU backend's on both graphs.
//!
//! ```text
//! gpu_bench --tolokers DIR [--work DIR] [--runs 20] [--pyg benches/pyg_gpu_bench.py]
//! ```
//! Prints one table on stdout; progress on stderr. Exits non-zero when a check fails.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use argus_extensions::ml::backend::{AdamW, Aggregation, Backend};
use argus_extensions::ml::cpu::{mix64, Cpu};
use argus_extensions::ml::cuda::Cuda;
use argus_extensions::ml::matrix::Matrix;
use argus_extensions::ml::relation::Relation;
use argus_extensions::ml::sage::{Sage, SageConfig};

struct Options {
    tolokers: PathBuf,
    work: PathBuf,
    runs: usize,
    pyg: Option<PathBuf>,
    nodes: usize,
    messages: usize,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        tolokers: PathBuf::from("../shared/data/tolokers"),
        work: PathBuf::from("bench-out/gpu"),
        runs: 20,
        pyg: None,
        nodes: 1_000_000,
        messages: 20_000_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--tolokers" => o.tolokers = value()?.into(),
            "--work" => o.work = value()?.into(),
            "--pyg" => o.pyg = Some(value()?.into()),
            "--runs" => o.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--nodes" => o.nodes = value()?.parse().map_err(|e| format!("--nodes: {e}"))?,
            "--messages" => {
                o.messages = value()?.parse().map_err(|e| format!("--messages: {e}"))?
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(o)
}

macro_rules! progress {
    ($($arg:tt)*) => { eprintln!("[gpu_bench] {}", format_args!($($arg)*)) };
}

/// Tolokers' standardised features, labels and undirected relation, from its CSVs.
fn read_tolokers(dir: &std::path::Path) -> Result<(Matrix, Vec<f32>, Relation), String> {
    let nodes = std::fs::read_to_string(dir.join("nodes.csv"))
        .map_err(|e| format!("{}: {e}", dir.join("nodes.csv").display()))?;
    let mut lines = nodes.lines();
    let header: Vec<&str> = lines.next().ok_or("empty nodes.csv")?.split(',').collect();
    let label = header
        .iter()
        .position(|h| *h == "label")
        .ok_or("no label column")?;
    let feature_cols: Vec<usize> = (1..header.len()).filter(|&i| i != label).collect();
    let mut index = std::collections::HashMap::new();
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for (row, line) in lines.enumerate() {
        let fields: Vec<&str> = line.split(',').collect();
        index.insert(fields[0].to_string(), row as u32);
        for &c in &feature_cols {
            data.push(
                fields[c]
                    .parse::<f32>()
                    .map_err(|e| format!("nodes.csv line {}: {e}", row + 2))?,
            );
        }
        labels.push(
            fields[label]
                .parse::<f32>()
                .map_err(|e| format!("nodes.csv line {}: {e}", row + 2))?,
        );
    }
    let n = labels.len();
    let mut x = Matrix::from_vec(n, feature_cols.len(), data);
    for c in 0..x.cols {
        let mean = (0..n).map(|i| x.get(i, c) as f64).sum::<f64>() / n as f64;
        let var = (0..n)
            .map(|i| (x.get(i, c) as f64 - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        let std = var.sqrt().max(1e-12);
        for i in 0..n {
            let v = &mut x.row_mut(i)[c];
            *v = ((*v as f64 - mean) / std) as f32;
        }
    }
    let edges_text = std::fs::read_to_string(dir.join("edges.csv"))
        .map_err(|e| format!("{}: {e}", dir.join("edges.csv").display()))?;
    let mut edges = Vec::new();
    for (i, line) in edges_text.lines().skip(1).enumerate() {
        let (a, b) = line
            .split_once(',')
            .ok_or(format!("edges.csv line {}: no comma", i + 2))?;
        let lookup = |k: &str| {
            index
                .get(k)
                .copied()
                .ok_or(format!("edges.csv line {}: unknown node {k}", i + 2))
        };
        edges.push((lookup(a)?, lookup(b)?));
    }
    Ok((x, labels, Relation::undirected(n, &edges)))
}

fn random_matrix(rows: usize, cols: usize, seed: u64) -> Matrix {
    let data = (0..rows * cols)
        .map(|i| ((mix64(seed ^ mix64(i as u64)) >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0)
        .collect();
    Matrix::from_vec(rows, cols, data)
}

/// Uniformly random `(source, target)` messages, written for the PyG side as two little-endian
/// u32 arrays (sources, then targets).
fn random_graph(nodes: usize, messages: usize, path: &std::path::Path) -> Result<Relation, String> {
    let edges: Vec<(u32, u32)> = (0..messages as u64)
        .map(|e| {
            let r = mix64(0xA5A5 ^ mix64(e));
            (
                ((r >> 32) % nodes as u64) as u32,
                ((r & 0xFFFF_FFFF) % nodes as u64) as u32,
            )
        })
        .collect();
    let mut bytes = Vec::with_capacity(messages * 8);
    for &(s, _) in &edges {
        bytes.extend_from_slice(&s.to_le_bytes());
    }
    for &(_, t) in &edges {
        bytes.extend_from_slice(&t.to_le_bytes());
    }
    std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(Relation::from_edges(nodes, nodes, &edges))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Median wall milliseconds of `f` to completion on the device, after warm-up runs.
fn time(gpu: &Cuda, runs: usize, mut f: impl FnMut()) -> f64 {
    for _ in 0..3 {
        f();
    }
    gpu.synchronize();
    let times = (0..runs)
        .map(|_| {
            let start = Instant::now();
            f();
            gpu.synchronize();
            start.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    median(times)
}

fn relative_error(a: &Matrix, b: &Matrix) -> f64 {
    let (mut d, mut n) = (0f64, 0f64);
    for (&x, &y) in a.data.iter().zip(&b.data) {
        d += (x as f64 - y as f64).powi(2);
        n += (x as f64).powi(2);
    }
    if a.data.iter().chain(&b.data).any(|v| v.is_nan()) {
        return f64::INFINITY;
    }
    (d / n.max(1e-30)).sqrt()
}

struct Measured {
    inference_ms: f64,
    train_step_ms: f64,
    logits_error: f64,
}

/// Time inference and one training step of a fresh model on `relation` (one relation), after
/// checking the GPU's logits against the CPU's.
fn measure(
    gpu: &Cuda,
    relation: &Relation,
    x: &Matrix,
    labels: &[f32],
    hidden: usize,
    runs: usize,
) -> Measured {
    let config = SageConfig {
        input: x.cols,
        hidden,
        layers: 2,
        relations: 1,
        aggregation: Aggregation::Mean,
        dropout: 0.2,
        seed: 1,
    };
    let n = x.rows;
    let graphs = [gpu.upload_relation(relation)];
    let gx = gpu.upload(x);
    let targets = gpu.upload(&Matrix::from_vec(n, 1, labels.to_vec()));
    // Half the nodes train, positives weighted by the class ratio, as in the PyG script.
    let positives = labels[..n / 2].iter().filter(|&&l| l > 0.5).count().max(1) as f32;
    let pos_weight = (n / 2) as f32 / positives - 1.0;
    let weights = gpu.upload(&Matrix::from_vec(
        n,
        1,
        (0..n)
            .map(|i| {
                if i < n / 2 {
                    if labels[i] > 0.5 {
                        pos_weight
                    } else {
                        1.0
                    }
                } else {
                    0.0
                }
            })
            .collect(),
    ));
    let mut model = Sage::new(gpu, config.clone());
    let cpu_model = Sage::new(&Cpu, config);
    let started = Instant::now();
    let (cpu_logits, _) = cpu_model.forward(&Cpu, std::slice::from_ref(relation), x, false, 0);
    progress!(
        "  CPU reference forward: {:.0} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let (gpu_logits, _) = model.forward(gpu, &graphs, &gx, false, 0);
    let logits_error = relative_error(&cpu_logits, &gpu.download(&gpu_logits));
    progress!("  logits GPU vs CPU: relative error {logits_error:.2e}");

    let inference_ms = time(gpu, runs, || {
        let _ = model.forward(gpu, &graphs, &gx, false, 0);
    });
    let hp = AdamW {
        lr: 3e-3,
        weight_decay: 1e-4,
        ..AdamW::default()
    };
    let mut seed = 0;
    let train_step_ms = time(gpu, runs, || {
        seed += 1;
        let (logits, cache) = model.forward(gpu, &graphs, &gx, true, seed);
        let (_, dlogits) = gpu.bce_with_logits(&logits, &targets, &weights);
        model.backward(gpu, &graphs, &cache, &dlogits);
        model.update(gpu, &hp);
    });
    Measured {
        inference_ms,
        train_step_ms,
        logits_error,
    }
}

fn pyg(
    script: &std::path::Path,
    o: &Options,
    edges: &std::path::Path,
) -> Result<std::collections::HashMap<String, f64>, String> {
    let out = Command::new("python3")
        .arg(script)
        .arg("--tolokers")
        .arg(&o.tolokers)
        .arg("--edges")
        .arg(edges)
        .arg("--nodes")
        .arg(o.nodes.to_string())
        .arg("--runs")
        .arg(o.runs.to_string())
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("python3 {}: {e}", script.display()))?;
    if !out.status.success() {
        return Err(format!("{} failed ({})", script.display(), out.status));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(' ')?;
            Some((k.to_string(), v.trim().parse().ok()?))
        })
        .collect())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("gpu_bench: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), String> {
    let o = options()?;
    let gpu = Cuda::new().map_err(|e| format!("no GPU: {e}"))?;
    progress!("device: {}", gpu.name());
    std::fs::create_dir_all(&o.work).map_err(|e| format!("{}: {e}", o.work.display()))?;
    let copy_rate = gpu.copy_rate(1 << 30, 20);
    progress!(
        "device-to-device copy: {:.2} TB/s (read + write)",
        copy_rate / 1e12
    );

    progress!("tolokers: reading {}", o.tolokers.display());
    let (tx, tlabels, trel) = read_tolokers(&o.tolokers)?;
    progress!(
        "tolokers: {} nodes, {} messages; hidden 256",
        tx.rows,
        trel.edge_count()
    );
    let tolokers = measure(&gpu, &trel, &tx, &tlabels, 256, o.runs);

    progress!("random graph: {} nodes, {} messages", o.nodes, o.messages);
    let edges_path = o.work.join("random_edges.bin");
    let rrel = random_graph(o.nodes, o.messages, &edges_path)?;
    let rx = random_matrix(o.nodes, 64, 7);
    let rlabels: Vec<f32> = (0..o.nodes)
        .map(|i| mix64(i as u64).is_multiple_of(5) as u8 as f32)
        .collect();
    let random = measure(&gpu, &rrel, &rx, &rlabels, 128, o.runs);

    // The aggregation alone, on a hidden-width input, against its bandwidth floor.
    let graph = gpu.upload_relation(&rrel);
    let z = gpu.upload(&random_matrix(o.nodes, 128, 9));
    let aggregate_ms = time(&gpu, o.runs, || {
        let _ = gpu.aggregate(&graph, &z, Aggregation::Mean);
    });
    let row_bytes = 128.0 * 4.0;
    let aggregate_bytes = (o.messages as f64 + o.nodes as f64) * row_bytes;
    let aggregate_floor_ms = aggregate_bytes / copy_rate * 1000.0;
    let inference_floor_ms = 2.0 * aggregate_floor_ms;
    progress!(
        "aggregation: {aggregate_ms:.2} ms, {:.2} TB/s (floor {aggregate_floor_ms:.2} ms)",
        aggregate_bytes / (aggregate_ms / 1000.0) / 1e12
    );
    let stats = gpu.pool_stats();
    progress!(
        "buffer pool: {} reused, {} allocated",
        stats.hits,
        stats.misses
    );

    let peer = match &o.pyg {
        Some(script) => match pyg(script, &o, &edges_path) {
            Ok(p) => Some(p),
            Err(e) => {
                progress!("PyG skipped: {e}");
                None
            }
        },
        None => None,
    };
    let get = |k: &str| peer.as_ref().and_then(|p| p.get(k).copied());
    println!(
        "device: {}; copy rate {:.2} TB/s",
        gpu.name(),
        copy_rate / 1e12
    );
    println!(
        "| graph | operation | PyG ms | Argus ms | Argus speed-up | floor ms | target | met |"
    );
    println!("|---|---|---:|---:|---:|---:|---|---|");
    let row = |graph: &str,
               op: &str,
               pyg: Option<f64>,
               ours: f64,
               floor: Option<f64>,
               target: &str,
               met: Option<bool>| {
        let fmt = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
        let speedup = pyg.map_or("–".to_string(), |p| format!("{:.1}×", p / ours));
        let met = match met {
            Some(true) => "yes",
            Some(false) => "NO",
            None => "–",
        };
        println!(
            "| {graph} | {op} | {} | {ours:.2} | {speedup} | {} | {target} | {met} |",
            fmt(pyg),
            fmt(floor)
        );
    };
    let random_name = format!(
        "random {}M nodes / {}M messages",
        o.nodes / 1_000_000,
        o.messages / 1_000_000
    );
    let pi = get("random_inference_ms");
    row(
        &random_name,
        "inference",
        pi,
        random.inference_ms,
        Some(inference_floor_ms),
        "≥ 5× PyG, ≤ 2× floor",
        pi.map(|p| {
            p / random.inference_ms >= 5.0 && random.inference_ms <= 2.0 * inference_floor_ms
        }),
    );
    row(
        &random_name,
        "training step",
        get("random_train_step_ms"),
        random.train_step_ms,
        None,
        "",
        None,
    );
    row(
        &random_name,
        "aggregation (mean, 128 wide)",
        None,
        aggregate_ms,
        Some(aggregate_floor_ms),
        "",
        None,
    );
    row(
        "tolokers (hidden 256)",
        "inference",
        get("tolokers_inference_ms"),
        tolokers.inference_ms,
        None,
        "",
        None,
    );
    let pt = get("tolokers_train_step_ms");
    row(
        "tolokers (hidden 256)",
        "training step",
        pt,
        tolokers.train_step_ms,
        None,
        "≥ 3× PyG",
        pt.map(|p| p / tolokers.train_step_ms >= 3.0),
    );
    let mut failed = false;
    for (name, m) in [("tolokers", &tolokers), ("random", &random)] {
        let ok = m.logits_error <= 1e-4;
        println!(
            "check: {name} logits GPU vs CPU relative error {:.2e} ({})",
            m.logits_error,
            if ok { "ok" } else { "FAILED" }
        );
        failed |= !ok;
    }
    if failed {
        return Err("GPU results differ from the CPU's (see the checks above)".into());
    }
    Ok(())
}
