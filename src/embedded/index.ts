export { DEMO_SYMBOLS, DemoFeed, type DemoMessage } from "./demo-feed.ts";
export {
  NatsServerProcess,
  findNatsServer,
  portOf,
  readPortsFile,
  type NatsPortsFile,
  type NatsServerOptions,
} from "./nats-server.ts";
export { DemoRunner } from "./demo-runner.ts";
