export { DEMO_SYMBOLS, DemoFeed, type DemoMessage } from "./demo-feed.ts";
export {
  NatsServerNotFoundError,
  NatsServerProcess,
  NatsServerStartError,
  findNatsServer,
  portOf,
  readPortsFile,
  type NatsPortsFile,
  type NatsServerOptions,
} from "./nats-server.ts";
