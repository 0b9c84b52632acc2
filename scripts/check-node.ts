// Fails early, with the fix, when the tests would run on a Node older than the kit supports
// (for example the system Node 20 instead of the Node 24 that `npm install` provides).
const major = Number(process.versions.node.split('.')[0])
if (major < 22) {
  console.error(
    `Beaver Kit needs Node >= 22 (developed on 24); this is ${process.version} at ${process.execPath}.\n` +
      'Run `npm install` first: it installs Node 24 into node_modules/.bin, which npm scripts use.',
  )
  process.exit(1)
}
