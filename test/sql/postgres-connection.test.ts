import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConninfo, postgresClientConfig } from '../../src/sql/postgres-connection.js';

describe('parseConninfo', () => {
  it('reads keyword/value pairs with quotes and escapes, and URIs', () => {
    assert.deepEqual(
      parseConninfo(`host=db port=5433 user = 'me' password='a b\\'c' dbname=q sslmode=disable`),
      {
        host: 'db',
        port: 5433,
        user: 'me',
        password: "a b'c",
        database: 'q',
      },
    );
    assert.deepEqual(parseConninfo('postgresql://u:p%40ss@h:6000/d?application_name=x'), {
      host: 'h',
      port: 6000,
      user: 'u',
      password: 'p@ss',
      database: 'd',
      application_name: 'x',
    });
    assert.throws(() => parseConninfo("host='unterminated"), TypeError);
    assert.throws(() => parseConninfo('host'), TypeError);
    assert.throws(() => parseConninfo('port=99999'), TypeError);
  });
});

describe('postgresClientConfig', () => {
  it('hands a URI to node-postgres whole, with the fields read and a 10 s connect timeout', () => {
    const uri = 'postgres://u@h:6000/d?sslmode=disable';
    assert.deepEqual(postgresClientConfig(uri), {
      connectionTimeoutMillis: 10_000,
      keepAlive: true,
      host: 'h',
      port: 6000,
      user: 'u',
      database: 'd',
      connectionString: uri,
    });
    assert.deepEqual(postgresClientConfig('host=h dbname=d connect_timeout=3'), {
      connectionTimeoutMillis: 3000,
      keepAlive: true,
      host: 'h',
      database: 'd',
    });
  });
});
