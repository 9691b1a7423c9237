export {
  SubscriptionTable,
  TopicEntry,
  type AddResult,
  type InterestListener,
  type TopicError,
} from "./subscription-table.ts";
