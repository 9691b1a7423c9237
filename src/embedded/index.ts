export { DEMO_SYMBOLS, DemoFeed, type DemoMessage } from "./demo-feed.ts";
export {
  NatsServerNotFoundError,
  NatsServerProcess,
  NatsServerStartError,
  findNatsServer,
  type NatsServerOptions,
} from "./nats-server.ts";
