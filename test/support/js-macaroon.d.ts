/**
 * Minimal types for js-macaroon (the `macaroon` npm package, CommonJS, untyped), covering only
 * what the interop tests and the benchmark call. Import it as `import jsMacaroon from 'macaroon'`.
 */
declare module 'macaroon' {
  /** A caveat as js-macaroon shows it; `vid` and `location` only on third-party caveats. */
  export interface JsCaveat {
    readonly identifier: Uint8Array;
    readonly location?: string;
    readonly vid?: Uint8Array;
  }

  /** The V2 JSON object js-macaroon exports (text fields, or base64 `*64` ones). */
  export interface JsMacaroonJSON {
    readonly v: number;
    readonly i?: string;
    readonly i64?: string;
    readonly l?: string;
    readonly s?: string;
    readonly s64?: string;
    readonly c?: readonly { readonly i?: string; readonly i64?: string; readonly v?: string; readonly v64?: string; readonly l?: string }[];
  }

  /** A mutable js-macaroon Macaroon: adding caveats and binding change it in place. */
  export interface JsMacaroon {
    readonly caveats: JsCaveat[];
    readonly location: string;
    readonly identifier: Uint8Array;
    readonly signature: Uint8Array;
    addFirstPartyCaveat(condition: string | Uint8Array): void;
    /** `rootKey` goes through the libmacaroons derivation (makeKey), like a Tessera string key. */
    addThirdPartyCaveat(rootKey: string | Uint8Array, caveatId: string | Uint8Array, location?: string): void;
    bindToRoot(rootSignature: Uint8Array): void;
    clone(): JsMacaroon;
    /** Throws on failure. `check` returns an error string, or null when the condition holds. */
    verify(rootKey: string | Uint8Array, check: (condition: string) => string | null, discharges?: readonly JsMacaroon[]): void;
    exportJSON(): JsMacaroonJSON;
    exportBinary(): Uint8Array;
  }

  export interface JsMacaroonModule {
    newMacaroon(options: { identifier: string | Uint8Array; location?: string; rootKey: string | Uint8Array; version?: 1 | 2 }): JsMacaroon;
    importMacaroon(encoded: string | Uint8Array | JsMacaroonJSON): JsMacaroon;
    importMacaroons(encoded: string | Uint8Array | readonly JsMacaroonJSON[]): JsMacaroon[];
    bytesToBase64(bytes: Uint8Array): string;
    base64ToBytes(text: string): Uint8Array;
    dischargeMacaroon(
      macaroon: JsMacaroon,
      getDischarge: (
        firstPartyLocation: string,
        caveatLocation: string,
        caveatId: Uint8Array,
        success: (discharge: JsMacaroon) => void,
        failure: (error: unknown) => void,
      ) => void,
      onOk: (macaroons: JsMacaroon[]) => void,
      onError: (error: unknown) => void,
    ): void;
  }

  const jsMacaroon: JsMacaroonModule;
  export default jsMacaroon;
}
