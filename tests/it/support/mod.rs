pub mod admin;
pub mod app;
pub mod db;
pub mod dns;
pub mod http;
pub mod process;
pub mod sink;
pub mod smtp;
