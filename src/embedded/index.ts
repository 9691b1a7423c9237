export { DEMO_SYMBOLS, DemoFeed, type DemoMessage } from "./demo-feed.ts";
export { NatsServerProcess, findNatsServer, freePort, type NatsServerOptions } from "./nats-server.ts";
export { DemoRunner } from "./demo-runner.ts";
