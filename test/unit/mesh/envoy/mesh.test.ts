import test from 'ava';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { MESH_SCHEMA_PATH, MeshError, meshJsonSchema, meshJsonSchemaText, parseMesh } from '../../../../src/mesh/envoy/mesh.ts';
import { repoYaml } from '../../../helpers/fixtures.ts';

test('the incident lab mesh file parses, with defaults filled in', (t) => {
  const m = parseMesh(repoYaml('labs/incident-7000/mesh.yaml'));
  t.is(m.era, 'current');
  t.is(m.meshConfig.outboundTrafficPolicy.mode, 'ALLOW_ANY');
  t.is(m.proxy.ip, '10.64.192.14');
  t.deepEqual(m.resources.map((r) => `${r.kind}/${r.metadata?.name}`), ['Service/frontend', 'Service/redis']);
});

test(`${MESH_SCHEMA_PATH} is the one the zod definition generates (UPDATE_GOLDEN=1 rewrites it)`, (t) => {
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(MESH_SCHEMA_PATH, meshJsonSchemaText());
  t.is(readFileSync(MESH_SCHEMA_PATH, 'utf8'), meshJsonSchemaText());
});

test('the published JSON Schema accepts the lab mesh file and rejects a broken one', (t) => {
  const ajv = new Ajv2020({ strict: false });
  const validate = ajv.compile(meshJsonSchema() as object);
  t.true(validate(repoYaml('labs/incident-7000/mesh.yaml')), JSON.stringify(validate.errors));
  t.false(validate({ apiVersion: 'pathlab/v1', kind: 'Mesh', proxy: {} }));
});

test('every problem is reported at once, each with its path', (t) => {
  const e = t.throws(
    () =>
      parseMesh({
        apiVersion: 'pathlab/v1',
        kind: 'Mesh',
        era: 'ancient',
        proxy: {},
        resources: [
          { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { ports: [{ port: 70000 }] } },
          { apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: { name: 's' }, spec: { egress: [{ hosts: ['web'] }] } },
        ],
      }),
    { instanceOf: MeshError },
  );
  const text = e!.problems.join('\n');
  t.regex(text, /^era: /m);
  t.regex(text, /^proxy\.ip: /m);
  t.regex(text, /resources\[0\]/);
  t.regex(text, /resources\[1\]/);
});

test('kinds synthesis does not read (a Deployment) are accepted and left alone', (t) => {
  const m = parseMesh({ apiVersion: 'pathlab/v1', kind: 'Mesh', proxy: { ip: '10.0.0.1' }, resources: [{ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd' }, spec: {} }] });
  t.is(m.resources[0]!.kind, 'Deployment');
});
