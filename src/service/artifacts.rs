//! Artifact operations. A path in the store belongs to the experiment its first folder
//! names (`<experiment_id>/<run_id>/artifacts/…`, MLflow's default layout); a path outside
//! any experiment folder may be read with the default permission and written by admins.

use super::AppState;
use crate::artifacts::{ArtifactEntry, ArtifactPath, ByteStream};
use crate::auth::{Access, Actor};
use crate::{CoreError, CoreResult};

/// The experiment folder a store path lies in, if its first segment is an experiment id.
fn experiment_of(path: &ArtifactPath) -> Option<&str> {
    path.segments()
        .next()
        .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
}

impl AppState {
    pub(crate) async fn check_artifact_path(
        &self,
        actor: &Actor,
        path: &ArtifactPath,
        access: Access,
    ) -> CoreResult<()> {
        match experiment_of(path) {
            Some(experiment) => self.check_experiment(actor, experiment, access).await,
            None if access == Access::Read => {
                self.require(actor, None, access, || "the artifact store".to_string())
            }
            None => self.require_admin(actor, "change artifacts outside an experiment's folder"),
        }
    }

    /// A custom artifact location may not lie in another experiment's folder: its runs
    /// would then read and write that experiment's files.
    pub(crate) fn check_artifact_location(&self, actor: &Actor, location: &ArtifactPath) -> CoreResult<()> {
        if experiment_of(location).is_some() && !actor.is_admin {
            return Err(CoreError::InvalidParameter(
                "artifact_location may not start with a number: those folders belong to experiments".into(),
            ));
        }
        Ok(())
    }

    pub async fn put_artifact(
        &self,
        actor: &Actor,
        path: &ArtifactPath,
        body: ByteStream,
    ) -> CoreResult<u64> {
        self.signed_in(actor)?;
        self.check_artifact_path(actor, path, Access::Update).await?;
        self.artifacts.put(path, body).await
    }

    pub async fn get_artifact(&self, actor: &Actor, path: &ArtifactPath) -> CoreResult<ByteStream> {
        self.check_artifact_path(actor, path, Access::Read).await?;
        self.artifacts.get(path).await
    }

    pub async fn list_artifacts(&self, actor: &Actor, dir: &ArtifactPath) -> CoreResult<Vec<ArtifactEntry>> {
        self.check_artifact_path(actor, dir, Access::Read).await?;
        self.artifacts.list(dir).await
    }

    pub async fn delete_artifact(&self, actor: &Actor, path: &ArtifactPath) -> CoreResult<()> {
        self.signed_in(actor)?;
        self.check_artifact_path(actor, path, Access::Delete).await?;
        self.artifacts.delete(path).await
    }

    /// A run's artifact root (its URI and store path), for the run's readers.
    pub async fn run_artifact_root(&self, actor: &Actor, run_id: &str) -> CoreResult<(String, ArtifactPath)> {
        let run = self.get_run(actor, run_id).await?;
        let root = ArtifactPath::from_uri(&run.info.artifact_uri)?;
        Ok((run.info.artifact_uri, root))
    }

    /// Lists under a run's artifact root; the run's readers may.
    pub async fn list_run_artifacts(
        &self,
        actor: &Actor,
        run_id: &str,
        sub: &ArtifactPath,
    ) -> CoreResult<(String, ArtifactPath, Vec<ArtifactEntry>)> {
        let (uri, root) = self.run_artifact_root(actor, run_id).await?;
        let entries = self.artifacts.list(&root.join(sub)).await?;
        Ok((uri, root, entries))
    }

    /// Opens a file under a run's artifact root; the run's readers may.
    pub async fn get_run_artifact(
        &self,
        actor: &Actor,
        run_id: &str,
        file: &ArtifactPath,
    ) -> CoreResult<(ArtifactPath, ByteStream)> {
        let (_, root) = self.run_artifact_root(actor, run_id).await?;
        let path = root.join(file);
        let stream = self.artifacts.get(&path).await?;
        Ok((path, stream))
    }

    /// Lists under a logged model's artifact root; the model's readers may.
    pub async fn list_logged_model_files(
        &self,
        actor: &Actor,
        model_id: &str,
        sub: &ArtifactPath,
    ) -> CoreResult<(ArtifactPath, Vec<ArtifactEntry>)> {
        let model = self.get_logged_model(actor, model_id).await?;
        let root = ArtifactPath::from_uri(&model.artifact_uri)?;
        let entries = self.artifacts.list(&root.join(sub)).await?;
        Ok((root, entries))
    }

    /// Opens a file under a logged model's artifact root; the model's readers may.
    pub async fn get_logged_model_file(
        &self,
        actor: &Actor,
        model_id: &str,
        file: &ArtifactPath,
    ) -> CoreResult<(ArtifactPath, ByteStream)> {
        let model = self.get_logged_model(actor, model_id).await?;
        let path = ArtifactPath::from_uri(&model.artifact_uri)?.join(file);
        let stream = self.artifacts.get(&path).await?;
        Ok((path, stream))
    }
}
