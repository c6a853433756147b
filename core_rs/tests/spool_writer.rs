//! The spool's writer thread (`hj212::spool_writer`) on a real folder: jobs land in their
//! segments in order across a roll, release tokens are passed on after the sync, and after
//! a failed job (a segment that cannot be opened) every later job fails
//! and releases nothing.

use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use hj212::spool_writer::{segment_name, Job, SpoolWriter};

fn folder(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("hj212-spool-writer-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp folder");
    dir
}

/// Wait for `n` jobs' outcomes (or fail after 5 s).
fn outcomes(w: &SpoolWriter, n: usize) -> Vec<Option<String>> {
    let mut all = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while all.len() < n {
        assert!(
            Instant::now() < deadline,
            "only {} of {n} jobs done",
            all.len()
        );
        all.extend(w.done());
        std::thread::sleep(Duration::from_millis(2));
    }
    all
}

#[test]
fn jobs_land_in_order_and_release_after_their_sync() {
    let dir = folder("order");
    let w = SpoolWriter::start(dir.clone()).expect("start");
    let (tx, rx) = mpsc::channel();
    w.set_release(Box::new(move |token| {
        let _ = tx.send(token);
    }));
    w.submit(Job {
        chunks: vec![(1, b"aaa".to_vec())],
        release: 7,
    });
    w.submit(Job {
        chunks: vec![(1, b"bb".to_vec()), (2, b"c".to_vec())],
        release: 0,
    });
    w.submit(Job {
        chunks: vec![(2, b"dd".to_vec())],
        release: 9,
    });
    assert_eq!(outcomes(&w, 3), vec![None, None, None]);
    // jobs queued together are synced once and released by their latest token (a release
    // covers every token before it)
    let released: Vec<u64> = rx.try_iter().collect();
    assert!(released == [7, 9] || released == [9], "{released:?}");
    let read = |i| std::fs::read(dir.join(segment_name(i))).expect("segment");
    assert_eq!(read(1), b"aaabb");
    assert_eq!(read(2), b"cdd");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_job_fails_every_later_one_and_releases_nothing() {
    let dir = folder("fail");
    std::fs::create_dir(dir.join(segment_name(2))).expect("a folder in the way");
    let w = SpoolWriter::start(dir.clone()).expect("start");
    let (tx, rx) = mpsc::channel();
    w.set_release(Box::new(move |token| {
        let _ = tx.send(token);
    }));
    // one at a time: jobs queued together are synced (and fail) together
    let mut got = Vec::new();
    for (i, data) in [&b"ok"[..], b"lost", b"after"].into_iter().enumerate() {
        w.submit(Job {
            chunks: vec![(i as u64 + 1, data.to_vec())],
            release: i as u64 + 1,
        });
        got.extend(outcomes(&w, 1));
    }
    assert_eq!(got[0], None);
    let first = got[1].as_deref().expect("the second job fails");
    assert!(
        first.starts_with("open ") && first.contains(&segment_name(2)),
        "{first}"
    );
    let later = got[2].as_deref().expect("the third job fails too");
    assert!(
        later.starts_with("an earlier write failed: open "),
        "{later}"
    );
    assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![1]);
    assert!(!dir.join(segment_name(3)).exists());
    let _ = std::fs::remove_dir_all(&dir);
}
