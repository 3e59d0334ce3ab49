<?cs include:"header.cs" ?>
<h1>Projects <small class="muted"><?cs var:Tenant.Name ?></small></h1>
<p class="sub"><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/keys">API keys</a> · <a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/tags">Tag budgets</a> · A project groups keys under budgets and a model list of its own: its keys' calls must fit the project's level and the tenant's. A key is in at most one project.</p>
<section class="card">
  <?cs if:subcount(Projects) == 0 ?>
  <p class="empty">This tenant has no projects yet.</p>
  <?cs else ?>
  <div class="table-wrap"><table class="grid">
    <thead><tr><th>Project</th><th>Keys</th><th>Created</th></tr></thead>
    <tbody>
    <?cs each:pr = Projects ?>
    <tr><td><a href="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects/<?cs var:pr.Id ?>"><?cs var:pr.Name ?></a></td><td><?cs var:pr.Keys ?></td><td><?cs var:pr.Created ?></td></tr>
    <?cs /each ?>
    </tbody>
  </table></div>
  <?cs /if ?>
</section>
<?cs if:User.Role != "support" ?>
<section class="card">
  <h2>New project</h2>
  <form class="stack" method="post" action="<?cs var:Prefix ?>/admin/tenants/<?cs var:Tenant.Id ?>/projects">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Name <input name="name" maxlength="64" value="<?cs var:Form.Name ?>"></label>
    <button type="submit" class="primary">Create project</button>
  </form>
</section>
<?cs /if ?>
<?cs include:"footer.cs" ?>
