/** Shape of one schema migration: an ordered list of single SQL statements. */
export interface Migration {
  /** Strictly increasing, starting at 1; recorded in `tessera_migrations` once applied. */
  readonly id: number;
  /** Short human name, recorded alongside the id. */
  readonly name: string;
  /** Run in order inside one transaction; one statement per entry (postgres.js needs that). */
  readonly statements: readonly string[];
}
