// Aedes (a third-party MQTT broker for Node) with a WebSocket listener at
// /mqtt, for the test that points the dashboard at someone else's WebSocket
// broker (Debian's Mosquitto has none). Usage:
//   node aedes.mjs TOOLS_DIR TCP_PORT WS_PORT
// prints "listening" once both ports accept.
import net from 'node:net'
import http from 'node:http'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import path from 'node:path'

const [tools, tcpPort, wsPort] = process.argv.slice(2)
const modules = path.join(tools, 'node_modules')
const { Aedes } = await import(pathToFileURL(path.join(modules, 'aedes', 'aedes.js')).href)
const ws = createRequire(path.join(modules, 'noop.js'))('ws')

const broker = await Aedes.createBroker()
const tcp = net.createServer(broker.handle)
const web = http.createServer()
const wss = new ws.WebSocketServer({
  server: web,
  path: '/mqtt',
  handleProtocols: (offered) => (offered.has('mqtt') ? 'mqtt' : false),
})
wss.on('connection', (socket, req) => broker.handle(ws.createWebSocketStream(socket), req))
await new Promise((resolve) => tcp.listen(Number(tcpPort), '127.0.0.1', resolve))
await new Promise((resolve) => web.listen(Number(wsPort), '127.0.0.1', resolve))
console.log('listening')
