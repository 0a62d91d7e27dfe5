//! The integration tests: one binary (one link step). Each test starts the real server on
//! ephemeral ports and talks SMTP/HTTP to it, with a real SMTP sink receiving the fan-out.

mod support;

mod accounts;
mod api;
mod authentication;
mod authz;
mod bounces;
mod browser;
mod cli;
mod contract;
mod crash;
mod direct;
mod directory;
mod display;
mod fanout;
mod gdpr;
mod groups;
mod hostile;
mod import;
mod ingress;
mod interop;
mod lossy_dns;
mod moderation;
mod postfix;
mod scale;
mod signing;
mod store;
mod unsubscribe;
mod web;
mod web_admin;
mod web_admin_ops;
mod web_archives;
mod web_members;
