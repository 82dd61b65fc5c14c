// Reference for bench/backend-startup: the seed backend's startup path (Express + Sequelize,
// PostgreSQL from DB_*), with the same tables as ours, answering /api/health and /api/ready.
import express from 'express';
import { Sequelize, DataTypes } from 'sequelize';

const sequelize = new Sequelize(process.env.DB_NAME, process.env.DB_USER, process.env.DB_PASS, {
  host: process.env.DB_HOST,
  port: Number(process.env.DB_PORT || 5432),
  dialect: 'postgres',
  logging: false,
  pool: { max: 8, min: 1 },
});

const id = { type: DataTypes.UUID, defaultValue: DataTypes.UUIDV4, primaryKey: true };
const roles = sequelize.define('roles', { id, name: { type: DataTypes.TEXT, unique: true }, globalAccess: DataTypes.BOOLEAN });
const permissions = sequelize.define('permissions', { id, name: { type: DataTypes.TEXT, unique: true } });
const users = sequelize.define('users', {
  id, email: DataTypes.TEXT, password: DataTypes.TEXT, firstName: DataTypes.TEXT, lastName: DataTypes.TEXT,
  phoneNumber: DataTypes.TEXT, disabled: DataTypes.BOOLEAN, emailVerified: DataTypes.BOOLEAN,
  provider: DataTypes.TEXT,
}, { paranoid: true });
const refreshTokens = sequelize.define('refresh_tokens', {
  id, familyId: DataTypes.UUID, parentId: DataTypes.UUID, tokenHash: { type: DataTypes.TEXT, unique: true },
  issuedAt: DataTypes.DATE, expiresAt: DataTypes.DATE, usedAt: DataTypes.DATE, revokedAt: DataTypes.DATE,
  revokedReason: DataTypes.TEXT,
});
users.belongsTo(roles, { as: 'app_role' });
roles.belongsToMany(permissions, { through: 'rolesPermissionsPermissions' });
users.belongsToMany(permissions, { through: 'usersCustom_permissionsPermissions', as: 'custom_permissions' });
refreshTokens.belongsTo(users);

const app = express();
app.use(express.json({ limit: '10mb' }));
app.get('/api/health', (_req, res) => res.json({ status: 'ok' }));
app.get('/api/ready', async (_req, res) => {
  try { await sequelize.query('SELECT 1'); res.json({ status: 'ok' }); }
  catch (e) { res.status(503).json({ error: { code: 'unavailable', message: String(e.message) } }); }
});

await sequelize.authenticate();
const port = Number(process.env.PORT || 3000);
app.listen(port, '127.0.0.1', () => console.log(`listening on http://127.0.0.1:${port}`));
