#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Row};
use std::time::Instant;

const Q: &str = "SELECT count(*), min(seq), max(seq), \
     group_concat(at, ','), group_concat(kind, ','), \
     group_concat(coalesce(agent, ''), ','), group_concat(agent IS NULL, ''), \
     group_concat(coalesce(authorization_id, ''), ','), group_concat(authorization_id IS NULL, ''), \
     group_concat(body, char(30)), group_concat(prev_hash, ''), group_concat(hash, '') \
     FROM (SELECT * FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2)";

#[tokio::main]
async fn main() {
    let path = std::env::args().nth(1).unwrap();
    for mmap in ["0", "1073741824"] {
      for chunk in [1024i64, 4096, 16384] {
        let mut conn = SqliteConnectOptions::new().filename(&path).read_only(true).pragma("mmap_size", mmap).connect().await.unwrap();
        let t = Instant::now();
        let mut after = 0i64;
        let mut total = 0usize;
        loop {
            let row = sqlx::query(Q).bind(after).bind(chunk).fetch_one(&mut conn).await.unwrap();
            let n: i64 = row.get(0);
            if n == 0 { break; }
            after = row.get(2);
            let body: String = row.get(9);
            total += body.len();
        }
        println!("mmap {mmap} chunk {chunk}: {} MB in {:?}", total / 1_000_000, t.elapsed());
      }
    }
}
