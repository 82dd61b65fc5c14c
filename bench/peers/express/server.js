// The peer the Rust backend is measured against: the three routes of a Flatlogic-generated
// Express + Sequelize app, written the way those apps write them (bcrypt, jsonwebtoken,
// Sequelize models with a role association, findAndCountAll). Not part of the product.
//
// Env: DATABASE_URL (required), PORT (default 43180), SECRET_KEY, BENCH_SEED_USERS (default 100),
// BENCH_PASSWORD (default "bench-password").
import express from 'express';
import cookieParser from 'cookie-parser';
import bcrypt from 'bcrypt';
import jwt from 'jsonwebtoken';
import { Sequelize, DataTypes, Op } from 'sequelize';

const databaseUrl = process.env.DATABASE_URL;
if (!databaseUrl) {
  console.error('DATABASE_URL is required (postgres://user:pass@host:port/db)');
  process.exit(2);
}
const port = Number(process.env.PORT || 43180);
const secret = process.env.SECRET_KEY || 'bench-secret-key-bench-secret-key';
const seedUsers = Number(process.env.BENCH_SEED_USERS || 100);
const benchPassword = process.env.BENCH_PASSWORD || 'bench-password';

// Sequelize's default pool is max 5; the generated apps keep the default.
const sequelize = new Sequelize(databaseUrl, { logging: false, dialect: 'postgres' });

const roles = sequelize.define('roles', {
  id: { type: DataTypes.UUID, defaultValue: DataTypes.UUIDV4, primaryKey: true },
  name: { type: DataTypes.TEXT },
  globalAccess: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
}, { timestamps: true, paranoid: true, freezeTableName: true });

const users = sequelize.define('users', {
  id: { type: DataTypes.UUID, defaultValue: DataTypes.UUIDV4, primaryKey: true },
  firstName: { type: DataTypes.TEXT },
  lastName: { type: DataTypes.TEXT },
  phoneNumber: { type: DataTypes.TEXT },
  email: { type: DataTypes.TEXT, unique: true },
  disabled: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: false },
  password: { type: DataTypes.TEXT },
  emailVerified: { type: DataTypes.BOOLEAN, allowNull: false, defaultValue: true },
  provider: { type: DataTypes.TEXT, defaultValue: 'local' },
}, { timestamps: true, paranoid: true, freezeTableName: true });

users.belongsTo(roles, { as: 'app_role', foreignKey: { name: 'app_roleId' }, constraints: false });

function toProfile(user) {
  const plain = user.get({ plain: true });
  delete plain.password;
  return plain;
}

const app = express();
app.use(express.json());
app.use(cookieParser());

function authenticate(req, res, next) {
  const header = req.headers.authorization || '';
  const token = header.startsWith('Bearer ') ? header.slice(7) : req.cookies.access_token;
  if (!token) return res.status(401).json({ error: 'Unauthorized' });
  jwt.verify(token, secret, async (err, payload) => {
    if (err) return res.status(401).json({ error: 'Unauthorized' });
    try {
      // passport-jwt's verify callback in the generated apps: load the user on every request.
      const user = await users.findOne({
        where: { id: payload.user.id },
        include: [{ model: roles, as: 'app_role' }],
      });
      if (!user || user.disabled) return res.status(401).json({ error: 'Unauthorized' });
      req.currentUser = user;
      next();
    } catch (e) {
      next(e);
    }
  });
}

app.post('/api/auth/signin/local', async (req, res, next) => {
  try {
    const { email, password } = req.body || {};
    const user = await users.findOne({ where: { email: String(email || '').toLowerCase() } });
    if (!user || !(await bcrypt.compare(String(password || ''), user.password || ''))) {
      return res.status(401).json({ error: "Sorry, we don't recognize your credentials" });
    }
    const token = jwt.sign({ user: { id: user.id, email: user.email } }, secret, { expiresIn: '15m' });
    res.cookie('access_token', token, { httpOnly: true, sameSite: 'lax', maxAge: 15 * 60 * 1000 });
    res.json({ ...toProfile(user), token });
  } catch (e) {
    next(e);
  }
});

app.get('/api/auth/me', authenticate, (req, res) => {
  res.json(toProfile(req.currentUser));
});

app.get('/api/users', authenticate, async (req, res, next) => {
  try {
    const limit = Math.min(Number(req.query.limit || 10), 100);
    const page = Number(req.query.page || 0);
    const { rows, count } = await users.findAndCountAll({
      where: { deletedAt: { [Op.is]: null } },
      include: [{ model: roles, as: 'app_role' }],
      attributes: { exclude: ['password'] },
      limit,
      offset: page * limit,
      order: [['createdAt', 'DESC']],
      distinct: true,
    });
    res.json({ rows, count });
  } catch (e) {
    next(e);
  }
});

async function seed() {
  await sequelize.sync();
  const existing = await users.count();
  if (existing >= seedUsers) return;
  const [role] = await roles.findOrCreate({ where: { name: 'User' }, defaults: { globalAccess: false } });
  const hash = await bcrypt.hash(benchPassword, 10);
  const rows = [];
  for (let i = existing; i < seedUsers; i += 1) {
    rows.push({
      email: `bench${i}@runway.test`,
      firstName: `First${i}`,
      lastName: `Last${i}`,
      password: hash,
      app_roleId: role.id,
    });
  }
  await users.bulkCreate(rows);
}

await seed();
app.listen(port, '127.0.0.1', () => {
  console.log(`express peer listening on 127.0.0.1:${port}`);
});
