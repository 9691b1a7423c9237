export { PatternIndex } from "./pattern-index.ts";
export { SubjectIndex } from "./subject-index.ts";
export { SubjectOwner, SubjectOwners } from "./subject-owners.ts";
export {
  SubscriptionTable,
  TopicEntry,
  TopicWalk,
  type AddResult,
  type InterestListener,
  type RemoveResult,
  type TopicError,
} from "./subscription-table.ts";
export {
  grantsAllowPattern,
  grantsAllowTopic,
  grantsCover,
  grantsMatch,
  patternContains,
  tokensOf,
  type PatternTokens,
} from "./entitlement.ts";
