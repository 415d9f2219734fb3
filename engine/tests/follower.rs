//! A read-only follower of a store another handle owns and writes: it sees the owner's commits
//! after `catch_up` (new labels too), never before, and refuses writes.

use argus_engine::{GraphStore, StoreOptions};

#[test]
fn a_follower_sees_commits_after_catching_up_and_refuses_writes() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let owner = GraphStore::open(&data).unwrap();
    owner
        .write(|t| {
            t.create_label("user", "id", Vec::new())?;
            t.upsert_node("user", "a", &[])?;
            Ok(())
        })
        .unwrap();

    let follower =
        GraphStore::open_follower(&data, dir.path().join("follower"), StoreOptions::default())
            .unwrap();
    assert!(follower.snapshot().node_id("user", "a").unwrap().is_some());
    assert!(!follower.catch_up().unwrap(), "nothing new yet");

    owner
        .write(|t| {
            t.upsert_node("user", "b", &[])?;
            t.create_label("card", "number", Vec::new())?;
            t.upsert_node("card", "4111", &[])?;
            Ok(())
        })
        .unwrap();
    let before = follower.snapshot();
    assert!(
        before.node_id("user", "b").unwrap().is_none(),
        "not before catching up"
    );
    assert!(follower.catch_up().unwrap());
    let after = follower.snapshot();
    assert!(after.generation() > before.generation());
    assert!(after.node_id("user", "b").unwrap().is_some());
    // Catching up again with nothing new changes nothing (scorers cached per generation stay).
    assert!(!follower.catch_up().unwrap(), "nothing new since");
    assert!(!follower.catch_up().unwrap(), "still nothing new");
    assert_eq!(follower.snapshot().generation(), after.generation());
    assert!(
        after.node_id("card", "4111").unwrap().is_some(),
        "a new label arrives too"
    );

    let refused = follower
        .write(|t| {
            t.upsert_node("user", "c", &[])?;
            Ok(())
        })
        .unwrap_err()
        .to_string();
    assert!(refused.contains("read-only"), "{refused}");
    assert!(owner.snapshot().node_id("user", "c").unwrap().is_none());
}

#[test]
fn following_a_missing_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = GraphStore::open_follower(
        dir.path().join("nothing"),
        dir.path().join("f"),
        StoreOptions::default(),
    )
    .err()
    .expect("no store there")
    .to_string();
    assert!(err.contains("nothing"), "{err}");
}
