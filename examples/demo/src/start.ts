// `npm start`: Beaver Links on embedded defaults (SQLite file under ./data, memory cache), no
// environment needed. BEAVER_DB_URL / BEAVER_CACHE_DRIVER / BEAVER_LOG_* move it to real servers.
import { main } from './main.ts'

await main()
