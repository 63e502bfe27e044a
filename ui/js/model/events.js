// Hand-kept mirror of core/events.go: the event schema the simulator (wasm)
// and real members (/events) both emit. When core/events.go changes, change
// this file too; TestUIEventKindsMirrorCore compares KINDS with core.Kinds.

/** The schema version this UI reads (core.SchemaVersion). */
export const SCHEMA_VERSION = 1;

/** Every event kind, in core's order (core.Kinds). */
export const KINDS = [
  'start', 'crash', 'stop', 'role', 'timer', 'vote', 'send', 'deliver', 'drop',
  'ready', 'key', 'commit', 'apply', 'snapshot', 'compact', 'confChange', 'transfer', 'read',
  'proposal', 'progress', 'network', 'log', 'dropped',
];

/**
 * @typedef {object} ConfStateValue
 * @property {number[]} voters
 * @property {number[]} [learners]
 * @property {number[]} [votersOutgoing]
 * @property {number[]} [learnersNext]
 * @property {boolean} [autoLeave]
 */

/**
 * @typedef {object} EntryValue  storage.EntryValue
 * @property {number} index
 * @property {number} term
 * @property {'normal'|'confChange'|'confChangeV2'} type
 * @property {number} size
 * @property {string} [data]
 */

/**
 * @typedef {object} SnapshotValue
 * @property {number} index
 * @property {number} term
 * @property {ConfStateValue} confState
 * @property {number} size
 */

/**
 * @typedef {object} KeyChange  storage.KeyChange
 * @property {string} key       e.g. /raft/hard_state, /raft/entry/12, /kv/x
 * @property {boolean} [deleted]
 * @property {*} [value]        decoded value (object) or a string for /kv/ and /members/
 * @property {boolean} synced
 */

/**
 * @typedef {object} MsgInfo  core.MsgInfo
 * @property {number} id
 * @property {string} type      MsgApp, MsgVote, ...
 * @property {number} from
 * @property {number} to
 * @property {number} term
 * @property {number} [logTerm]
 * @property {number} [index]
 * @property {number} [commit]
 * @property {number} [vote]
 * @property {boolean} [reject]
 * @property {number} [rejectHint]
 * @property {EntryValue[]} [entries]
 * @property {SnapshotValue} [snapshot]
 * @property {number} size
 * @property {string} [reason]
 * @property {number} [deliverAt]
 */

/**
 * @typedef {object} ReadyInfo  core.ReadyInfo
 * @property {number} number
 * @property {number} [entriesFrom]
 * @property {number} [entriesTo]
 * @property {{term:number,vote:number,commit:number}} [hardState]
 * @property {number} [snapshot]
 * @property {boolean} mustSync
 * @property {boolean} synced
 * @property {number} messages
 * @property {boolean} [sentBeforePersist]  a leader's messages left while it persisted (thesis §10.2.1)
 * @property {number} [committedFrom]
 * @property {number} [committedTo]
 * @property {number} [readStates]
 */

/**
 * @typedef {object} ProgressInfo  core.ProgressInfo
 * @property {number} peer
 * @property {number} match
 * @property {number} next
 * @property {'probe'|'replicate'|'snapshot'} state
 * @property {number} inflight
 * @property {boolean} recentActive
 * @property {boolean} paused
 * @property {number} [pendingSnapshot]
 * @property {boolean} [learner]
 */

/**
 * @typedef {object} Event  core.Event: exactly one payload field is set, the one kind names.
 * @property {number} v
 * @property {number} seq
 * @property {number} time      virtual ms (simulation) or Unix ms (real member)
 * @property {number} node      0 for cluster-wide events
 * @property {string} kind      one of KINDS
 * @property {{restart:boolean,term:number,vote:number,commit:number,applied:number,firstIndex:number,lastIndex:number,confState:ConfStateValue,electionTicks:number,heartbeatTicks:number}} [start]
 * @property {string[]} [lost]
 * @property {string} [error]
 * @property {{role:'follower'|'preCandidate'|'candidate'|'leader',term:number,lead:number}} [role]
 * @property {{elapsed:number,timeout:number}} [timer]
 * @property {{decision:'requested'|'granted'|'rejected',candidate:number,voter:number,term:number,pre:boolean}} [vote]
 * @property {MsgInfo} [msg]
 * @property {ReadyInfo} [ready]
 * @property {KeyChange} [key]
 * @property {{from:number,to:number}} [commit]
 * @property {{from:number,to:number,entries:EntryValue[]}} [apply]
 * @property {{phase:string,index:number,term:number,peer?:number,size:number,confState:ConfStateValue,failed?:boolean}} [snapshot]
 * @property {{index:number}} [compact]
 * @property {{phase:string,changes:string,reqId?:number,index?:number,confState?:ConfStateValue,reason?:string}} [confChange]
 * @property {{phase:string,from:number,to:number}} [transfer]
 * @property {{phase:string,reqId:number,key:string,index?:number,found?:boolean,value?:string,error?:string}} [read]
 * @property {{phase:string,reqId:number,command:string,index?:number,error?:string}} [proposal]
 * @property {ProgressInfo} [progress]
 * @property {{groups?:number[][],cuts?:number[][],latencyMs:number,jitterMs:number,lossRatio:number,diskMs:number,down?:number[],members?:number[]}} [network]
 * @property {{level:string,text:string}} [log]
 * @property {{count:number}} [dropped]
 */

/** The raft message types the UI draws, with their family. */
export const MESSAGE_TYPES = {
  MsgPreVote: 'vote', MsgPreVoteResp: 'vote', MsgVote: 'vote', MsgVoteResp: 'vote',
  MsgHeartbeat: 'heartbeat', MsgHeartbeatResp: 'heartbeat',
  MsgApp: 'append', MsgAppResp: 'append',
  MsgSnap: 'snapshot', MsgTimeoutNow: 'transfer',
  MsgReadIndex: 'read', MsgReadIndexResp: 'read', MsgProp: 'proposal',
  MsgTransferLeader: 'transfer', MsgForgetLeader: 'other',
};

/** The seven raft keys, in the order the storage panel shows them. */
export const RAFT_KEYS = [
  '/raft/first_index', '/raft/last_index', '/raft/hard_state', '/raft/conf_state',
  '/raft/entry/{idx}', '/raft/uncommit_index', '/raft/snapshot',
];
