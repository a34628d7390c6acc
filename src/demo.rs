//! demo (placeholder)
pub async fn run() -> u8 { 0 }
