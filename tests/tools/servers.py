"""Stand-ins for the servers the helper tests reach (tests/tests/helpers.rs).

    python3 servers.py git  ISSUER REPO_ROOT LOG   # git smart HTTP (git http-backend)
    python3 servers.py kube ISSUER LOG             # a Kubernetes API server's /api/v1/namespaces

Both listen on 127.0.0.1 at a free port, print {"port": N} on one line, and accept only an
access token the test authorization server at ISSUER says is valid (GET ISSUER/api/protected):
as `Authorization: Bearer TOKEN`, or for git also as the password of HTTP Basic. Every
request's outcome goes to LOG as one line: "<kind> <token-sha8> <status> <path>".
"""
import base64
import hashlib
import http.server
import json
import os
import subprocess
import sys
import urllib.request


def token_from(header):
    if not header:
        return None, None
    scheme, _, value = header.partition(' ')
    if scheme.lower() == 'bearer':
        return 'bearer', value.strip()
    if scheme.lower() == 'basic':
        try:
            _, _, password = base64.b64decode(value.strip()).decode().partition(':')
            return 'basic', password
        except Exception:
            return None, None
    return None, None


def valid(issuer, token):
    req = urllib.request.Request(issuer + '/api/protected', headers={'Authorization': 'Bearer ' + token})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status == 200
    except Exception:
        return False


def main():
    mode, issuer = sys.argv[1], sys.argv[2]
    root = sys.argv[3] if mode == 'git' else None
    log = sys.argv[4] if mode == 'git' else sys.argv[3]

    def note(kind, token, status, path):
        digest = hashlib.sha256(token.encode()).hexdigest()[:8] if token else '-'
        with open(log, 'a') as f:
            f.write(f'{kind or "none"} {digest} {status} {path}\n')

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = 'HTTP/1.1'

        def log_message(self, *args):
            pass

        def refuse(self, kind, token):
            note(kind, token, 401, self.path)
            body = b'unauthorized\n'
            self.send_response(401)
            self.send_header('WWW-Authenticate', 'Bearer realm="test"' if mode == 'kube' else 'Basic realm="git"')
            if mode == 'git':
                self.send_header('WWW-Authenticate', 'Bearer realm="git"')
            self.send_header('Content-Length', str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def handle_any(self):
            length = int(self.headers.get('Content-Length') or 0)
            body = self.rfile.read(length) if length else b''
            kind, token = token_from(self.headers.get('Authorization'))
            if not token or not valid(issuer, token):
                self.refuse(kind, token)
                return
            note(kind, token, 200, self.path)
            if mode == 'kube':
                out = json.dumps({'kind': 'NamespaceList', 'apiVersion': 'v1', 'metadata': {}, 'items': [{'metadata': {'name': 'default'}}]}).encode()
                self.send_response(200)
                self.send_header('Content-Type', 'application/json')
                self.send_header('Content-Length', str(len(out)))
                self.end_headers()
                self.wfile.write(out)
                return
            path, _, query = self.path.partition('?')
            env = dict(os.environ, GIT_PROJECT_ROOT=root, GIT_HTTP_EXPORT_ALL='1', REQUEST_METHOD=self.command,
                       PATH_INFO=path, QUERY_STRING=query, CONTENT_TYPE=self.headers.get('Content-Type', ''),
                       CONTENT_LENGTH=str(len(body)), REMOTE_USER='tester', REMOTE_ADDR='127.0.0.1',
                       GIT_HTTP_MAX_REQUEST_BUFFER='100M')
            if self.headers.get('Git-Protocol'):
                env['GIT_PROTOCOL'] = self.headers['Git-Protocol']
            out = subprocess.run(['git', 'http-backend'], input=body, env=env, capture_output=True).stdout
            head, _, rest = out.partition(b'\r\n\r\n')
            status = 200
            headers = []
            for line in head.split(b'\r\n'):
                k, _, v = line.decode().partition(':')
                if k.lower() == 'status':
                    status = int(v.strip().split()[0])
                elif k:
                    headers.append((k, v.strip()))
            self.send_response(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header('Content-Length', str(len(rest)))
            self.end_headers()
            self.wfile.write(rest)

        do_GET = handle_any
        do_POST = handle_any

    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
    print(json.dumps({'port': server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == '__main__':
    main()
