/** The part of @xmpp/client (which ships no types) that the xmpp plugin uses. */
declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events';

  export interface Element {
    name: string;
    attrs: Record<string, string | undefined>;
    children: Array<Element | string>;
    is(name: string, xmlns?: string): boolean;
    getChild(name: string, xmlns?: string): Element | undefined;
    getChildText(name: string, xmlns?: string): string | null;
    toString(): string;
  }

  export interface JID {
    local: string;
    domain: string;
    resource: string;
    toString(): string;
  }

  export interface ClientOptions {
    service?: string;
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    lang?: string;
    timeout?: number;
  }

  export interface Client extends EventEmitter {
    status: string;
    jid: JID | null;
    timeout: number;
    start(): Promise<JID>;
    stop(): Promise<unknown>;
    /** Writes one stanza (further arguments are not stanzas). */
    send(element: Element): Promise<void>;
    reconnect: { stop(): void };
    /** Registers a SASL mechanism; returns the saslmechanisms factory. */
    sasl: { use(mechanism: unknown): unknown };
  }

  export function client(options?: ClientOptions): Client;
  export function xml(name: string, attrs?: Record<string, string | undefined> | null, ...children: Array<Element | string>): Element;
}
