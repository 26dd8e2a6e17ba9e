// cluster-key-slot ships no types; it is the slot function ioredis itself uses.
declare module 'cluster-key-slot' {
  /** Redis Cluster hash slot (0..16383) of a key, honouring `{hash tags}`. */
  export default function calculateSlot(key: string | Buffer): number;
}
