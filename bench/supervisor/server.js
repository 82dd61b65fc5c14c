// The small Node HTTP server both supervisors manage in the benchmark: answers its pid.
const http = require('http');
const port = Number(process.env.PORT);
http.createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain' });
  res.end(String(process.pid));
}).listen(port, '127.0.0.1');
