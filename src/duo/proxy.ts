/** HTTPS through an HTTP proxy: CONNECT host:port, then TLS over the tunnel. */
import http from 'node:http';
import tls from 'node:tls';

export function connectThroughProxy(proxyUrl: string, o: tls.ConnectionOptions, cb: (err: Error | null, s?: tls.TLSSocket) => void): void {
  const proxy = new URL(proxyUrl);
  const target = `${o.host}:${o.port}`;
  const headers: Record<string, string> = { Host: target };
  if (proxy.username) headers['Proxy-Authorization'] = 'Basic ' + Buffer.from(`${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`).toString('base64');
  const req = http.request({ host: proxy.hostname, port: Number(proxy.port || 80), method: 'CONNECT', path: target, headers });
  req.once('connect', (res, socket) => {
    if (res.statusCode !== 200) {
      socket.destroy();
      cb(new Error(`proxy ${proxy.hostname}:${proxy.port} refused CONNECT ${target} with ${res.statusCode}`));
      return;
    }
    const s = tls.connect({ ...o, socket, servername: o.servername ?? (o.host as string) });
    s.once('secureConnect', () => cb(null, s));
    s.once('error', (err) => cb(err));
  });
  req.once('error', (err) => cb(new Error(`proxy ${proxy.hostname}:${proxy.port}: ${err.message}`)));
  req.end();
}
