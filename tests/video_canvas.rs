//! Video over real calls: members send H.264 of distinct colours, the server composes a
//! canvas and every member decodes it; colours are checked at the centres of the tiles.

mod common;

use common::*;
use std::time::Duration;
use tessera::dial::{dial, DialOptions, DialReport};
use tessera::media::video::frame::I420Frame;

async fn video_call(
    server: &tessera::server::ServerHandle,
    room: &str,
    color: Option<(u8, u8, u8)>,
    secs: f64,
    headers: &[(&str, &str)],
) -> DialReport {
    let mut o = DialOptions::new(uri(server, room));
    o.color = color;
    o.save_frame = None;
    o.duration = Duration::from_secs_f64(secs);
    o.headers = headers
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
    if color.is_none() {
        o.save_frame =
            Some(std::env::temp_dir().join(format!("tessera-watch-{}.png", std::process::id())));
    }
    dial(o).await.expect("dial runs")
}

fn close(a: (u8, u8, u8), b: (u8, u8, u8)) -> bool {
    let d = |x: u8, y: u8| (i32::from(x) - i32::from(y)).abs();
    d(a.0, b.0) < 60 && d(a.1, b.1) < 60 && d(a.2, b.2) < 60
}

fn colour_at(frame: &I420Frame, x: i32, y: i32) -> (u8, u8, u8) {
    frame.pixel_rgb(x as u32, y as u32).unwrap_or((0, 0, 0))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_member_sees_its_colour_on_the_canvas() {
    let server = start(test_config()).await;
    let watch = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let room = server.control().room("v1").await;
        eprintln!("{}", serde_json::to_string(&room).unwrap());
    };
    let (report, ()) = tokio::join!(
        video_call(&server, "v1", Some((255, 0, 0)), 4.0, &[]),
        watch
    );
    eprintln!("{report:?}");
    assert!(report.video_rx_frames > 10, "{report:?}");
    let frame = report.last_frame.expect("a frame");
    assert_eq!((frame.width, frame.height), (1280, 720));
    assert!(
        close(colour_at(&frame, 640, 360), (255, 0, 0)),
        "{:?}",
        colour_at(&frame, 640, 360)
    );
    server.shutdown().await;
}
