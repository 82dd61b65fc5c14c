# Sourced by run.sh, ab.sh and cpu_split.sh: the two servers' configuration files, so that every
# proxy bench compares the same nginx setup with the same runway routes.

# nginx_conf DIR LISTEN_PORT UPSTREAM_PORT: writes DIR/nginx.conf (pid, logs and temp files under
# DIR). Debian's nginx as the seed's VM would run it: 2 workers, HTTP/1.1 keep-alive to the
# upstream (64 idle connections kept), the usual forwarding headers, access log on; static files
# from DIR/dist with sendfile, immutable hashed assets and the SPA fallback.
nginx_conf() {
  local dir=$1 listen=$2 upstream=$3
  cat > "$dir/nginx.conf" <<NGINX
worker_processes 2;
pid $dir/nginx.pid;
error_log $dir/logs/nginx-error.log;
events { worker_connections 4096; }
http {
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 65;
  keepalive_requests 100000;
  access_log $dir/logs/nginx-access.log;
  client_body_temp_path $dir/tmp/body;
  proxy_temp_path $dir/tmp/proxy;
  fastcgi_temp_path $dir/tmp/fastcgi;
  uwsgi_temp_path $dir/tmp/uwsgi;
  scgi_temp_path $dir/tmp/scgi;
  upstream backend { server 127.0.0.1:$upstream; keepalive 64; }
  server {
    listen 127.0.0.1:$listen;
    root $dir/dist;
    location /api {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host \$host;
      proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto \$scheme;
    }
    location /assets/ { add_header Cache-Control "public, max-age=31536000, immutable"; }
    location / { try_files \$uri \$uri/ /index.html; }
  }
}
NGINX
}

# runway_toml FILE LISTEN_PORT UPSTREAM_PORT [WORKERS]: the same routes for runway's proxy:
# /api to the upstream, / the static directory `dist` beside FILE; WORKERS threads (default 2,
# as nginx's two worker processes).
runway_toml() {
  local file=$1 listen=$2 upstream=$3 workers=${4:-2}
  cat > "$file" <<TOML
[proxy]
listen = ["127.0.0.1:$listen"]
workers = $workers

[[route]]
path = "/api"
upstream = "127.0.0.1:$upstream"

[[route]]
path = "/"
static = "dist"
TOML
}
