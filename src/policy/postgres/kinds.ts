/** The policy kind of every statement node of the PostgreSQL 18 grammar (gram.y's `stmt` alternatives). */
import type {Kind} from '../types.js'
import type {AstObject} from './ast.js'

/** Statement node → kind, for nodes whose kind does not depend on their fields. */
const FIXED: Readonly<Record<string, Kind>> = {
  SelectStmt: 'select', // also VALUES and TABLE x
  DeclareCursorStmt: 'select', // judged as its query (statements.ts)
  InsertStmt: 'insert',
  UpdateStmt: 'update',
  DeleteStmt: 'delete',
  MergeStmt: 'merge',
  CopyStmt: 'copy',
  TruncateStmt: 'truncate',
  VariableSetStmt: 'set', // SET, RESET, SET ROLE, SET SESSION AUTHORIZATION, SET TRANSACTION
  ConstraintsSetStmt: 'set', // SET CONSTRAINTS
  VariableShowStmt: 'show',
  TransactionStmt: 'transaction', // BEGIN/COMMIT/ROLLBACK/SAVEPOINT/PREPARE TRANSACTION/COMMIT PREPARED
  ExplainStmt: 'explain',
  PrepareStmt: 'prepare',
  ExecuteStmt: 'execute',
  DeallocateStmt: 'deallocate',
  CallStmt: 'call',
  DoStmt: 'do',
  LockStmt: 'lock',
  ListenStmt: 'listen',
  UnlistenStmt: 'listen',
  NotifyStmt: 'notify',
  CommentStmt: 'comment',

  CreateStmt: 'create',
  CreateTableAsStmt: 'create', // also CREATE MATERIALIZED VIEW
  CreateSchemaStmt: 'create',
  CreateTableSpaceStmt: 'create',
  CreateExtensionStmt: 'create',
  CreateFdwStmt: 'create',
  CreateForeignServerStmt: 'create',
  CreateForeignTableStmt: 'create',
  CreateUserMappingStmt: 'create',
  ImportForeignSchemaStmt: 'create',
  CreatePolicyStmt: 'create',
  CreateAmStmt: 'create',
  CreateTrigStmt: 'create',
  CreateEventTrigStmt: 'create',
  CreatePLangStmt: 'create',
  CreateRoleStmt: 'create',
  CreateSeqStmt: 'create',
  DefineStmt: 'create', // CREATE AGGREGATE/OPERATOR/TYPE/COLLATION/TEXT SEARCH ...
  CreateDomainStmt: 'create',
  CreateOpClassStmt: 'create',
  CreateOpFamilyStmt: 'create',
  IndexStmt: 'create',
  CreateStatsStmt: 'create',
  CreateFunctionStmt: 'create',
  RuleStmt: 'create',
  CompositeTypeStmt: 'create',
  CreateEnumStmt: 'create',
  CreateRangeStmt: 'create',
  ViewStmt: 'create',
  CreatedbStmt: 'create',
  CreateConversionStmt: 'create',
  CreateCastStmt: 'create',
  CreateTransformStmt: 'create',
  CreatePublicationStmt: 'create',
  CreateSubscriptionStmt: 'create',

  AlterTableStmt: 'alter', // also ALTER INDEX/SEQUENCE/VIEW/MATERIALIZED VIEW/FOREIGN TABLE
  ReplicaIdentityStmt: 'alter',
  AlterCollationStmt: 'alter',
  AlterDomainStmt: 'alter',
  AlterDefaultPrivilegesStmt: 'alter',
  AlterTableSpaceOptionsStmt: 'alter',
  AlterTableMoveAllStmt: 'alter',
  AlterExtensionStmt: 'alter',
  AlterExtensionContentsStmt: 'alter',
  AlterFdwStmt: 'alter',
  AlterForeignServerStmt: 'alter',
  AlterUserMappingStmt: 'alter',
  AlterPolicyStmt: 'alter',
  AlterEventTrigStmt: 'alter',
  AlterRoleStmt: 'alter',
  AlterRoleSetStmt: 'alter',
  AlterSeqStmt: 'alter',
  AlterOpFamilyStmt: 'alter',
  AlterStatsStmt: 'alter',
  AlterFunctionStmt: 'alter',
  RenameStmt: 'alter',
  AlterObjectDependsStmt: 'alter',
  AlterObjectSchemaStmt: 'alter',
  AlterOwnerStmt: 'alter',
  AlterOperatorStmt: 'alter',
  AlterTypeStmt: 'alter',
  AlterEnumStmt: 'alter',
  AlterDatabaseStmt: 'alter',
  AlterDatabaseRefreshCollStmt: 'alter',
  AlterDatabaseSetStmt: 'alter',
  AlterSystemStmt: 'alter',
  AlterTSDictionaryStmt: 'alter',
  AlterTSConfigurationStmt: 'alter',
  AlterPublicationStmt: 'alter',
  AlterSubscriptionStmt: 'alter',
  ReassignOwnedStmt: 'alter', // REASSIGN OWNED changes the owner of objects

  DropStmt: 'drop',
  DropTableSpaceStmt: 'drop',
  DropUserMappingStmt: 'drop',
  DropRoleStmt: 'drop',
  DropdbStmt: 'drop',
  DropSubscriptionStmt: 'drop',
  DropOwnedStmt: 'drop',

  // Maintenance and session statements that have no kind of their own; policy can still name 'other'.
  DiscardStmt: 'other',
  CheckPointStmt: 'other',
  ClusterStmt: 'other',
  ReindexStmt: 'other',
  RefreshMatViewStmt: 'other',
  LoadStmt: 'other',
  SecLabelStmt: 'other',
  ClosePortalStmt: 'other',
  // Only inside PL/pgSQL and SQL-standard function bodies.
  ReturnStmt: 'other',
  PLAssignStmt: 'other',
}

/** Statement nodes whose kind depends on their fields. */
const BY_FIELD = new Set(['GrantStmt', 'GrantRoleStmt', 'VacuumStmt', 'FetchStmt'])

/** True when this module maps the node type on purpose (rather than by the 'other' fallback). */
export function isMappedStatement(type: string): boolean {
  return Object.hasOwn(FIXED, type) || BY_FIELD.has(type)
}

/** The kind of a statement node; anything unknown (a newer grammar) is 'other', never an error. */
export function kindOf(type: string, node: AstObject): Kind {
  switch (type) {
    case 'GrantStmt':
    case 'GrantRoleStmt':
      return node.is_grant === true ? 'grant' : 'revoke'
    case 'VacuumStmt':
      // `VACUUM [ANALYZE]` is a vacuum; a bare `ANALYZE` only collects statistics.
      return node.is_vacuumcmd === true ? 'vacuum' : 'analyze'
    case 'FetchStmt':
      // FETCH returns rows of the cursor's query, so it reads like a SELECT; MOVE only repositions.
      return node.ismove === true ? 'other' : 'select'
    default:
      return Object.hasOwn(FIXED, type) ? (FIXED[type] ?? 'other') : 'other'
  }
}
