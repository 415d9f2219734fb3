//! Property tests: each algorithm against a naive reference on random small graphs.

use std::collections::{BTreeSet, HashMap, VecDeque};

use argus_extensions::{
    connected_components, fan, k_hop, pagerank, shortest_path, temporal_cycles, Csr, Direction,
    EdgeRow, NO_TIME,
};
use proptest::prelude::*;

/// Random multigraphs with self-loops, repeated times and some edges without time.
fn graphs(max_nodes: u32, max_edges: usize) -> impl Strategy<Value = (u32, Vec<EdgeRow>)> {
    (1..=max_nodes).prop_flat_map(move |n| {
        let edge = (
            0..n,
            0..n,
            prop_oneof![9 => 0i64..40, 1 => Just(NO_TIME)],
            0u8..4,
        );
        (
            Just(n),
            proptest::collection::vec(edge, 0..=max_edges).prop_map(|raw| {
                raw.into_iter()
                    .enumerate()
                    .map(|(i, (src, dst, time, a))| EdgeRow {
                        src,
                        dst,
                        time,
                        amount: if a == 0 { f64::NAN } else { a as f64 * 10.0 },
                        edge: 1000 + i as u64,
                        edge_type: a as u16,
                    })
                    .collect::<Vec<_>>()
            }),
        )
    })
}

/// Neighbours of `v` following `dir`, straight from the edge list.
fn naive_steps(edges: &[EdgeRow], v: u32, dir: Direction) -> Vec<&EdgeRow> {
    edges
        .iter()
        .filter(|e| match dir {
            Direction::Out => e.src == v,
            Direction::In => e.dst == v,
            Direction::Both => e.src == v || e.dst == v,
        })
        .collect()
}

fn other(e: &EdgeRow, v: u32) -> u32 {
    if e.src == v {
        e.dst
    } else {
        e.src
    }
}

fn bfs(n: u32, edges: &[EdgeRow], start: u32, dir: Direction) -> Vec<Option<u32>> {
    let mut dist = vec![None; n as usize];
    dist[start as usize] = Some(0);
    let mut queue = VecDeque::from([start]);
    while let Some(u) = queue.pop_front() {
        for e in naive_steps(edges, u, dir) {
            let v = other(e, u);
            if dist[v as usize].is_none() {
                dist[v as usize] = Some(dist[u as usize].unwrap() + 1);
                queue.push_back(v);
            }
        }
    }
    dist
}

fn directions() -> impl Strategy<Value = Direction> {
    prop_oneof![
        Just(Direction::Out),
        Just(Direction::In),
        Just(Direction::Both)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn csr_lists_are_complete_and_time_sorted((n, edges) in graphs(20, 60)) {
        let g = Csr::from_edges(n, edges.clone()).unwrap();
        let mut seen_out = 0;
        for v in 0..n {
            let out: Vec<_> = g.edges(v, Direction::Out).collect();
            let inn: Vec<_> = g.edges(v, Direction::In).collect();
            prop_assert!(out.windows(2).all(|w| (w[0].time, w[0].edge) <= (w[1].time, w[1].edge)));
            prop_assert!(inn.windows(2).all(|w| (w[0].time, w[0].edge) <= (w[1].time, w[1].edge)));
            prop_assert!(out.iter().all(|e| e.src == v));
            prop_assert!(inn.iter().all(|e| e.dst == v));
            let mut want: Vec<u64> = edges.iter().filter(|e| e.dst == v).map(|e| e.edge).collect();
            let mut got: Vec<u64> = inn.iter().map(|e| e.edge).collect();
            want.sort_unstable();
            got.sort_unstable();
            prop_assert_eq!(got, want);
            seen_out += out.len();
            let both = g.edges(v, Direction::Both).count();
            prop_assert_eq!(both, out.len() + inn.len());
        }
        prop_assert_eq!(seen_out, edges.len());
    }

    #[test]
    fn components_match_bfs_labelling((n, edges) in graphs(25, 40)) {
        let g = Csr::from_edges(n, edges.clone()).unwrap();
        let labels = connected_components(&g);
        let mut want = vec![u32::MAX; n as usize];
        for v in 0..n {
            if want[v as usize] != u32::MAX {
                continue;
            }
            // Visiting in increasing order makes `v` the smallest node of its component.
            for (u, d) in bfs(n, &edges, v, Direction::Both).iter().enumerate() {
                if d.is_some() {
                    want[u] = v;
                }
            }
        }
        prop_assert_eq!(labels, want);
    }

    #[test]
    fn shortest_path_length_is_the_bfs_distance(
        (n, edges) in graphs(20, 50),
        from in 0u32..20,
        to in 0u32..20,
        max_hops in 0u32..8,
        dir in directions(),
    ) {
        let (from, to) = (from % n, to % n);
        let g = Csr::from_edges(n, edges.clone()).unwrap();
        let from_start = bfs(n, &edges, from, dir);
        let to_end = bfs(n, &edges, to, dir.reverse());
        let got = shortest_path(&g, from, to, max_hops, dir);
        match from_start[to as usize] {
            Some(d) if d <= max_hops => {
                let path = got.expect("a path within max_hops exists");
                prop_assert_eq!(path.len() as u32, d + 1);
                prop_assert_eq!(path[0].node, from);
                prop_assert_eq!(path[d as usize].node, to);
                // Reference: at each step the smallest node on a shortest path, reached by its
                // earliest edge.
                let mut cur = from;
                for (i, step) in path.iter().enumerate().skip(1) {
                    let i = i as u32;
                    let candidates: Vec<&EdgeRow> = naive_steps(&edges, cur, dir)
                        .into_iter()
                        .filter(|e| {
                            let y = other(e, cur);
                            from_start[y as usize] == Some(i)
                                && to_end[y as usize] == Some(d - i)
                        })
                        .collect();
                    let best = candidates.iter().map(|e| other(e, cur)).min().unwrap();
                    let edge = candidates
                        .iter()
                        .filter(|e| other(e, cur) == best)
                        .min_by_key(|e| (e.time, e.edge))
                        .unwrap();
                    prop_assert_eq!(step.node, best);
                    prop_assert_eq!(step.edge, Some(edge.edge));
                    prop_assert_eq!(step.edge_type, Some(edge.edge_type));
                    cur = best;
                }
            }
            _ => prop_assert!(got.is_none()),
        }
    }

    #[test]
    fn k_hop_matches_filtered_bfs(
        (n, edges) in graphs(20, 50),
        start in 0u32..20,
        hops in 0u32..5,
        dir in directions(),
        since in proptest::option::of(0i64..40),
        until in proptest::option::of(0i64..40),
    ) {
        let start = start % n;
        let g = Csr::from_edges(n, edges.clone()).unwrap();
        let bounded = since.is_some() || until.is_some();
        let kept: Vec<EdgeRow> = edges
            .iter()
            .copied()
            .filter(|e| {
                if !bounded {
                    return true;
                }
                e.time != NO_TIME
                    && since.is_none_or(|s| e.time >= s)
                    && until.is_none_or(|u| e.time <= u)
            })
            .collect();
        let dist = bfs(n, &kept, start, dir);
        let rows = k_hop(&g, start, hops, dir, since, until, usize::MAX);
        let got: HashMap<u32, u32> = rows.iter().map(|r| (r.node, r.hop)).collect();
        prop_assert_eq!(got.len(), rows.len());
        let want: HashMap<u32, u32> = dist
            .iter()
            .enumerate()
            .filter_map(|(v, d)| d.filter(|&d| d <= hops).map(|d| (v as u32, d)))
            .collect();
        prop_assert_eq!(&got, &want);
        for r in &rows[1..] {
            let parent = r.parent.unwrap();
            prop_assert_eq!(got[&parent] + 1, r.hop);
            let e = kept.iter().find(|e| e.edge == r.via_edge.unwrap()).unwrap();
            prop_assert_eq!(other(e, parent), r.node);
        }
        let limited = k_hop(&g, start, hops, dir, since, until, 3);
        prop_assert_eq!(&limited[..], &rows[..rows.len().min(3)]);
    }

    #[test]
    fn temporal_cycles_match_brute_force(
        (n, edges) in graphs(7, 24),
        max_len in 2usize..7,
        within in proptest::option::of(0i64..30),
        min_amount in proptest::option::of(0.0f64..40.0),
    ) {
        let g = Csr::from_edges(n, edges.clone()).unwrap();
        let got = temporal_cycles(&g, max_len, within, min_amount, usize::MAX);
        prop_assert!(!got.truncated);
        let got_set: BTreeSet<Vec<u64>> = got.cycles.iter().map(|c| c.edges.clone()).collect();
        prop_assert_eq!(got_set.len(), got.cycles.len(), "a cycle was reported twice");
        for c in &got.cycles {
            prop_assert!(c.times.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(c.start, c.times[0]);
            prop_assert_eq!(c.end, *c.times.last().unwrap());
        }

        // Brute force: every simple path of time-increasing usable edges, closed back to its
        // start, with no pruning at all.
        let usable: Vec<&EdgeRow> = edges
            .iter()
            .filter(|e| e.time != NO_TIME && min_amount.is_none_or(|m| e.amount >= m))
            .collect();
        let mut want = BTreeSet::new();
        fn walk<'a>(
            usable: &[&'a EdgeRow],
            path: &mut Vec<&'a EdgeRow>,
            nodes: &mut Vec<u32>,
            max_len: usize,
            within: Option<i64>,
            want: &mut BTreeSet<Vec<u64>>,
        ) {
            let last = *path.last().unwrap();
            for e in usable {
                if e.src != last.dst || e.time <= last.time {
                    continue;
                }
                if within.is_some_and(|w| e.time - path[0].time > w) {
                    continue;
                }
                if e.dst == nodes[0] {
                    let mut ids: Vec<u64> = path.iter().map(|p| p.edge).collect();
                    ids.push(e.edge);
                    want.insert(ids);
                } else if path.len() + 1 < max_len && !nodes.contains(&e.dst) {
                    path.push(e);
                    nodes.push(e.dst);
                    walk(usable, path, nodes, max_len, within, want);
                    nodes.pop();
                    path.pop();
                }
            }
        }
        for e in &usable {
            if e.src == e.dst {
                continue;
            }
            walk(&usable, &mut vec![*e], &mut vec![e.src, e.dst], max_len, within, &mut want);
        }
        prop_assert_eq!(got_set, want);
    }

    #[test]
    fn fan_matches_quadratic_reference(
        (n, edges) in graphs(10, 40),
        window in 0i64..20,
        dir in directions(),
    ) {
        let g = Csr::from_edges(n, edges.clone()).unwrap();
        let rows = fan(&g, dir, window, 1);
        let got: HashMap<u32, u32> = rows.iter().map(|r| (r.node, r.count)).collect();
        for v in 0..n {
            let timed: Vec<(i64, u32)> = naive_steps(&edges, v, dir)
                .into_iter()
                .filter(|e| e.time != NO_TIME && e.src != e.dst)
                .map(|e| (e.time, other(e, v)))
                .collect();
            let best = timed
                .iter()
                .map(|&(t0, _)| {
                    timed
                        .iter()
                        .filter(|&&(t, _)| t >= t0 && t - t0 <= window)
                        .map(|&(_, c)| c)
                        .collect::<BTreeSet<_>>()
                        .len() as u32
                })
                .max();
            prop_assert_eq!(got.get(&v).copied(), best);
        }
        for r in &rows {
            prop_assert!(r.window_end - r.window_start <= window);
        }
    }

    #[test]
    fn pagerank_is_a_distribution((n, edges) in graphs(30, 80)) {
        let g = Csr::from_edges(n, edges).unwrap();
        let r = pagerank(&g, 0.85, 100, 1e-12);
        prop_assert_eq!(r.len(), n as usize);
        prop_assert!((r.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        prop_assert!(r.iter().all(|&x| x > 0.0));
    }
}
