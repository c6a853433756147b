"""The HJ 212 gateway: loggers over TCP in, answers out, frames to Kafka through a disk
spool, downlink commands to loggers. See README.md in this folder."""
