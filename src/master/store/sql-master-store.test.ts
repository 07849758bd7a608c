// The master store's contract on SQLite, the default store: private in-memory databases.
import { masterStoreContract, openInMemorySqlite } from './master-store-contract.js';

masterStoreContract({ name: 'sqlite', open: openInMemorySqlite });
